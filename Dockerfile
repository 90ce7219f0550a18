# The dealcycle worker (and CLI) image, used by docker-compose.yml's `worker` service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DEALCYCLE_STATE_DIR=/var/lib/dealcycle \
    DEALCYCLE_LOG_FORMAT=json

WORKDIR /src
# The locked runtime dependencies (scripts/lock), each file checked against its hash, in a
# layer of their own: rebuilt only when the lock changes. Every one ships wheels for this
# base (psycopg[binary], cryptography), so no compiler.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
# .dockerignore keeps tests, local state and the virtualenv out of the build context.
COPY . .
# dealcycle itself; its dependencies are all in place, exactly as locked.
RUN pip install --no-deps . \
    && rm -rf /src/build

# A fixed, unprivileged uid: the worker needs no root, and volumes get a predictable owner.
RUN useradd --system --uid 10001 --create-home --home-dir /home/dealcycle dealcycle \
    && mkdir -p /var/lib/dealcycle \
    && chown dealcycle:dealcycle /var/lib/dealcycle
USER dealcycle
WORKDIR /var/lib/dealcycle
VOLUME ["/var/lib/dealcycle"]

CMD ["dealcycle", "worker"]
