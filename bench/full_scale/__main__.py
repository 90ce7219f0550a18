from bench.full_scale.run import main

main()
