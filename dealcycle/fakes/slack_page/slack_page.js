// The sandbox Slack page: polls the Slack fake's state and shows it as Slack would; clicks,
// forms, replies and slash commands go to the fake's control API, which delivers them to the
// dealcycle Slack app as signed Slack requests from the user picked in "You are".
"use strict";

const POLL_MS = 1000;
const EMOJI = {
  white_check_mark: "✅", warning: "⚠️", red_circle: "🔴", large_green_circle: "🟢",
  large_yellow_circle: "🟡", calendar: "📅", bell: "🔔", x: "❌", hourglass: "⏳", memo: "📝",
  rotating_light: "🚨", tada: "🎉", zzz: "💤", clipboard: "📋", link: "🔗", eyes: "👀",
};

const ui = {
  user: new URLSearchParams(location.search).get("user") || localStorage.getItem("slackPageUser") || "",
  extraUsers: JSON.parse(localStorage.getItem("slackPageExtraUsers") || "[]"),
  current: location.hash.slice(1) || "",
  thread: null, // {channel, ts}
  dismissedViews: new Set(), // "id:hash" of modals closed here, until the fake forgets them
  shownView: "",
};
let model = null;
let lastStateText = "";
let polling = false;

// ---- small helpers --------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "html") node.innerHTML = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function emoji(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (all, name) => EMOJI[name] || all);
}

// Slack's mrkdwn: <…> tokens (mentions, channels, links), *bold*, _italic_, ~strike~, `code`.
function mrkdwn(source) {
  const tokens = [];
  let text = String(source || "").replace(/<([^<>]+)>/g, (all, inner) => {
    tokens.push(renderToken(inner));
    return `\u0000${tokens.length - 1}\u0000`;
  });
  text = text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  text = emoji(escapeHtml(text));
  const codes = [];
  text = text.replace(/`([^`\n]+)`/g, (all, code) => {
    codes.push(`<code>${code}</code>`);
    return `\u0001${codes.length - 1}\u0001`;
  });
  const edge = "(^|[\\s(\\u0000])";
  const after = "(?=$|[\\s).,!?:;\\u0000])";
  text = text
    .replace(new RegExp(`${edge}\\*([^*\\n]+)\\*${after}`, "g"), "$1<b>$2</b>")
    .replace(new RegExp(`${edge}_([^_\\n]+)_${after}`, "g"), "$1<i>$2</i>")
    .replace(new RegExp(`${edge}~([^~\\n]+)~${after}`, "g"), "$1<s>$2</s>")
    .replace(/\n/g, "<br>");
  return text
    .replace(/\u0001(\d+)\u0001/g, (all, i) => codes[Number(i)])
    .replace(/\u0000(\d+)\u0000/g, (all, i) => tokens[Number(i)]);
}

function renderToken(inner) {
  const [target, label] = inner.split("|", 2);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = label || (model && model.names[id]) || id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    const name = label || channelName(target.slice(1));
    return `<span class="mention">#${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("!date^")) {
    // <!date^UNIX^{format}^link|fallback>: shown in the reader's own time zone.
    const seconds = Number(target.split("^")[1]);
    const shown = Number.isFinite(seconds)
      ? new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" })
      : label || "";
    return `<time>${escapeHtml(shown)}</time>`;
  }
  if (target.startsWith("!")) return `<span class="mention">@${escapeHtml(label || target.slice(1).split("^")[0])}</span>`;
  const safe = /^(https?:|mailto:)/.test(target) ? target : "#";
  return `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener">${escapeHtml(label || target)}</a>`;
}

function textObject(obj) {
  if (!obj) return "";
  if (typeof obj === "string") return escapeHtml(obj);
  return obj.type === "mrkdwn" ? mrkdwn(obj.text) : emoji(escapeHtml(obj.text || ""));
}

function time(ts) {
  const date = new Date(Number(ts) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function toast(text) {
  const box = $("toast");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 6000);
}

async function control(path, payload) {
  const answer = await fetch(`/__fake__/${path}`, {
    method: payload === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: payload === undefined ? undefined : JSON.stringify(payload),
  });
  let body = null;
  try { body = await answer.json(); } catch { body = null; }
  if (!answer.ok) throw new Error((body && body.error) || `the fake answered ${answer.status}`);
  return body;
}

// What the app answered to a delivered request: {status, body}, body JSON or text.
function appAnswer(result) {
  if (!result || typeof result !== "object") return {};
  let body = result.body;
  if (typeof body === "string") {
    try { body = JSON.parse(body); } catch { body = body ? { text: body } : {}; }
  }
  if (result.status && Number(result.status) >= 300) {
    toast(`The Slack app answered ${result.status}${body && body.text ? `: ${body.text}` : ""}`);
  }
  return body || {};
}

// ---- the fake's state, in one shape ---------------------------------------------------------

function normalize(state) {
  const conversations = [];
  const add = (raw, kind) => {
    const flat = [];
    for (const m of raw.messages || []) {
      flat.push(m);
      for (const r of m.replies || []) flat.push({ ...r, thread_ts: r.thread_ts || m.ts });
    }
    conversations.push({
      id: raw.id,
      kind: raw.is_im || kind === "dm" ? "dm" : "channel",
      name: raw.name || raw.user || raw.id,
      user: raw.user || null,
      messages: flat,
    });
  };
  for (const c of state.channels || []) add(c, c.is_im ? "dm" : "channel");
  for (const d of state.dms || state.ims || []) add(d, "dm");
  const byUser = (value) => (value && typeof value === "object" && !Array.isArray(value) ? value : {});
  const views = {};
  for (const [user, list] of Object.entries(byUser(state.views))) {
    views[user] = (Array.isArray(list) ? list : [list]).map((v) => ({ ...(v.view || v), id: v.id || v.view_id || (v.view && v.view.id) }));
  }
  const home = {};
  for (const [user, view] of Object.entries(byUser(state.home || state.homes))) home[user] = view && view.view ? view.view : view;
  const names = {};
  for (const [id, profile] of Object.entries(byUser(state.users))) {
    if (profile && profile.real_name && profile.real_name !== id.toLowerCase()) names[id] = profile.real_name;
  }
  const bot = (state.bot && state.bot.user_id) || state.bot_user_id || "";
  return { conversations, ephemerals: byUser(state.ephemerals), views, home, bot, names };
}

function channelName(id) {
  const found = model && model.conversations.find((c) => c.id === id);
  return found ? found.name : id;
}

// People seen in the workspace, with a role when a message names one ("CE <@U…>").
function knownUsers() {
  const users = new Map();
  const see = (id, role) => {
    if (!id || id === model.bot || !/^[UW][A-Z0-9]+$/.test(id)) return;
    if (!users.has(id) || (role && !users.get(id))) users.set(id, role || "");
  };
  const scan = (text) => {
    for (const match of String(text || "").matchAll(/(?:\b(Security CE|CE leader|AE|CE)\b[:\s]*)?<@([UW][A-Z0-9]+)(?:\|[^>]*)?>/g)) {
      see(match[2], match[1]);
    }
  };
  for (const c of model.conversations) {
    if (c.kind === "dm") see(c.user);
    for (const m of c.messages) {
      if (!m.bot_id) see(m.user);
      scan(m.text);
      scan(JSON.stringify(m.blocks || []));
    }
  }
  for (const id of [...Object.keys(model.ephemerals), ...Object.keys(model.views), ...Object.keys(model.home), ...ui.extraUsers]) see(id);
  return [...users.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

// ---- rendering ------------------------------------------------------------------------------

function renderSidebar() {
  const picker = $("user-picker");
  const users = knownUsers();
  if (!ui.user && users.length) ui.user = (users.find(([, role]) => role === "CE") || users[0])[0];
  const label = (id, role) => [model.names[id] ? `${model.names[id]} · ${id}` : id, role ? `(${role})` : ""].join(" ").trim();
  const options = users.map(([id, role]) => h("option", { value: id, selected: id === ui.user }, label(id, role)));
  if (ui.user && !users.some(([id]) => id === ui.user)) options.unshift(h("option", { value: ui.user, selected: true }, ui.user));
  picker.replaceChildren(...options);
  const item = (c) => h("li", {}, h("a", {
    href: `#${c.id}`, class: `conversation${c.id === ui.current ? " active" : ""}`, "data-id": c.id,
  }, c.kind === "dm" ? `@ ${model.names[c.user] || c.name}` : `# ${c.name}`));
  $("channel-list").replaceChildren(...model.conversations.filter((c) => c.kind === "channel").map(item));
  $("dm-list").replaceChildren(...model.conversations.filter((c) => c.kind === "dm").map(item));
  $("home-link").classList.toggle("active", ui.current === "home");
}

function renderElement(element, context) {
  switch (element.type) {
    case "button": {
      const style = element.style ? ` ${element.style}` : "";
      const click = () => {
        if (element.url) window.open(element.url, "_blank", "noopener");
        act(context, element, { value: element.value });
      };
      return h("button", { type: "button", class: `slack-button${style}`, "data-action-id": element.action_id, onclick: click }, h("span", { html: textObject(element.text) }));
    }
    case "static_select":
    case "overflow": {
      const options = element.options || (element.option_groups || []).flatMap((g) => g.options);
      const select = h("select", { "data-action-id": element.action_id }, h("option", { value: "" }, element.placeholder ? element.placeholder.text : "Choose…"),
        options.map((o) => h("option", { value: o.value }, o.text.text)));
      select.addEventListener("change", () => {
        const option = options.find((o) => o.value === select.value);
        if (option) act(context, element, { value: option.value });
      });
      return select;
    }
    case "image":
      return h("img", { src: element.image_url, alt: element.alt_text || "" });
    case "mrkdwn":
    case "plain_text":
      return h("span", { html: textObject(element) });
    default:
      return h("span", { class: "empty" }, `[${element.type}]`);
  }
}

function renderBlock(block, context) {
  const box = (extra, ...children) => h("div", { class: `block ${block.type}`, "data-block-id": block.block_id, ...extra }, ...children);
  const ctx = { ...context, block_id: block.block_id };
  switch (block.type) {
    case "header":
      return box({}, h("span", { html: textObject(block.text) }));
    case "divider":
      return h("hr", { class: "block divider" });
    case "section":
      return box({},
        h("div", {},
          block.text ? h("div", { html: textObject(block.text) }) : null,
          block.fields ? h("div", { class: "fields" }, block.fields.map((f) => h("div", { html: textObject(f) }))) : null),
        block.accessory ? renderElement(block.accessory, ctx) : null);
    case "context":
      return box({}, (block.elements || []).map((e) => renderElement(e, ctx)));
    case "actions":
      return box({}, (block.elements || []).map((e) => renderElement(e, ctx)));
    case "image":
      return box({}, h("img", { src: block.image_url, alt: block.alt_text || "" }));
    case "rich_text":
      return box({}, JSON.stringify(block.elements || []).match(/"text":"([^"]*)"/g)?.map((t) => t.slice(8, -1)).join("") || "");
    case "input":
      return renderInput(block, context.index);
    default:
      return box({ class: "block empty" }, `[${block.type} block]`);
  }
}

function renderMessage(message, conversation, { inThread = false, ephemeral = false } = {}) {
  const context = { channel: conversation.id, ts: message.ts, ephemeral };
  // Ephemerals carry their recipient as user; the app sent them.
  const fromApp = ephemeral || message.bot_id || message.user === model.bot || !message.user;
  const author = fromApp ? "dealcycle" : model.names[message.user] || message.user;
  const blocks = message.blocks && message.blocks.length
    ? message.blocks.map((b) => renderBlock(b, context))
    : [h("div", { html: mrkdwn(message.text) })];
  const replies = conversation.messages.filter((m) => m.thread_ts === message.ts && m.ts !== message.ts);
  return h("div", { class: `message${ephemeral ? " ephemeral" : ""}`, "data-ts": message.ts },
    h("span", { class: "author" }, author),
    h("span", { class: "time" }, time(message.ts)),
    message.edited ? h("span", { class: "edited" }, "(edited)") : null,
    ephemeral ? h("span", { class: "only-you" }, "Only visible to you") : null,
    h("div", { class: "body" }, blocks),
    !inThread && replies.length
      ? h("button", { type: "button", class: "replies-link", onclick: () => openThread(conversation.id, message.ts) }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`)
      : null,
    !inThread && !ephemeral && !replies.length
      ? h("button", { type: "button", class: "replies-link", onclick: () => openThread(conversation.id, message.ts) }, "Reply in thread")
      : null);
}

function ephemeralsIn(conversationId, threadTs) {
  return (model.ephemerals[ui.user] || []).filter((e) => e.channel === conversationId && (e.thread_ts || null) === (threadTs || null));
}

function keepScroll(section, render) {
  const atBottom = section.scrollHeight - section.scrollTop - section.clientHeight < 40;
  render();
  if (atBottom) section.scrollTop = section.scrollHeight;
}

function renderConversation() {
  const section = $("messages");
  $("composer").hidden = ui.current === "home";
  if (ui.current === "home") {
    $("conversation-title").textContent = "🏠 dealcycle — Home";
    const view = model.home[ui.user];
    keepScroll(section, () => section.replaceChildren(view
      ? h("div", { class: "home" }, (view.blocks || []).map((b) => renderBlock(b, { view_id: view.id })))
      : h("p", { class: "empty" }, "The app has not published a Home tab for you yet.")));
    return;
  }
  const conversation = model.conversations.find((c) => c.id === ui.current);
  if (!conversation) {
    $("conversation-title").textContent = "Pick a channel";
    section.replaceChildren();
    return;
  }
  $("conversation-title").textContent = conversation.kind === "dm"
    ? `@ ${model.names[conversation.user] || conversation.name} (direct messages with the app)`
    : `# ${conversation.name}`;
  const top = conversation.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  const ephemerals = ephemeralsIn(conversation.id, null);
  keepScroll(section, () => section.replaceChildren(
    ...top.map((m) => renderMessage(m, conversation)),
    ...ephemerals.map((m) => renderMessage(m, conversation, { ephemeral: true })),
    top.length || ephemerals.length ? "" : h("p", { class: "empty" }, "No messages yet.")));
}

function renderThread() {
  const pane = $("thread");
  const conversation = ui.thread && model.conversations.find((c) => c.id === ui.thread.channel);
  pane.hidden = !conversation;
  if (!conversation) return;
  const thread = conversation.messages.filter((m) => m.ts === ui.thread.ts || m.thread_ts === ui.thread.ts);
  const section = $("thread-messages");
  keepScroll(section, () => section.replaceChildren(
    ...thread.map((m) => renderMessage(m, conversation, { inThread: true })),
    ...ephemeralsIn(conversation.id, ui.thread.ts).map((m) => renderMessage(m, conversation, { inThread: true, ephemeral: true }))));
}

// ---- modals ---------------------------------------------------------------------------------

function renderInput(block, index) {
  const e = block.element || {};
  const id = `modal-input-${index}`;
  const initial = (o) => (o ? [o.value] : []);
  const chosen = new Set([...(e.initial_options || []).map((o) => o.value), ...initial(e.initial_option)]);
  let control;
  switch (e.type) {
    case "plain_text_input":
      control = e.multiline
        ? h("textarea", { id, rows: 4, placeholder: e.placeholder && e.placeholder.text }, e.initial_value || "")
        : h("input", { id, type: "text", value: e.initial_value || "", placeholder: e.placeholder && e.placeholder.text });
      break;
    case "number_input":
      control = h("input", { id, type: "number", step: e.is_decimal_allowed ? "any" : "1", value: e.initial_value || "" });
      break;
    case "datepicker":
      control = h("input", { id, type: "date", value: e.initial_date || "" });
      break;
    case "static_select":
    case "multi_static_select": {
      const options = e.options || (e.option_groups || []).flatMap((g) => g.options);
      control = h("select", { id, multiple: e.type === "multi_static_select" },
        e.type === "static_select" ? h("option", { value: "" }, e.placeholder ? e.placeholder.text : "Choose…") : null,
        options.map((o) => h("option", { value: o.value, selected: chosen.has(o.value) }, o.text.text)));
      break;
    }
    case "checkboxes":
    case "radio_buttons":
      control = h("div", { id }, (e.options || []).map((o) => h("label", { class: "option" },
        h("input", { type: e.type === "checkboxes" ? "checkbox" : "radio", name: id, value: o.value, checked: chosen.has(o.value) }),
        " ", h("span", { html: textObject(o.text) }))));
      break;
    default: // users_select, conversations_select…: an id typed in
      control = h("input", { id, type: "text", placeholder: e.type });
  }
  return h("div", { class: "input-block", "data-block-id": block.block_id },
    h("label", { for: id }, h("span", { html: textObject(block.label) }), block.optional ? h("span", { class: "hint" }, " (optional)") : null),
    control,
    block.hint ? h("div", { class: "hint", html: textObject(block.hint) }) : null,
    h("div", { class: "error" }));
}

// What the person entered, as the fake's /submit takes it: {block_id: {action_id: value}},
// where value is the text, the picked option's value, or a list of them.
async function modalValues(view) {
  const values = {};
  for (const [index, block] of (view.blocks || []).entries()) {
    if (block.type !== "input" || !block.element) continue;
    const e = block.element;
    const control = $(`modal-input-${index}`);
    let value;
    switch (e.type) {
      case "multi_static_select":
        value = [...control.selectedOptions].map((o) => o.value);
        break;
      case "checkboxes":
        value = [...control.querySelectorAll("input:checked")].map((i) => i.value);
        break;
      case "radio_buttons": {
        const checked = control.querySelector("input:checked");
        value = checked ? checked.value : null;
        break;
      }
      default:
        value = control.value === "" ? null : control.value;
    }
    values[await blockId(block, index)] = { [e.action_id]: value };
  }
  return values;
}

// Slack fills in the block_id an app left out; the fake derives it from the block's place.
async function blockId(block, index) {
  if (block.block_id) return block.block_id;
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(`${index}:${block.type}`));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 5);
}

function topView() {
  const views = (model.views[ui.user] || []).filter((v) => v.type !== "home");
  const view = views[views.length - 1];
  return view && !ui.dismissedViews.has(viewKey(view)) ? view : null;
}

function viewKey(view) {
  return `${view.id}:${JSON.stringify(view.blocks || [])}:${JSON.stringify(view.title || "")}`;
}

function renderModal() {
  const view = topView();
  const backdrop = $("modal-backdrop");
  if (!view) {
    backdrop.hidden = true;
    ui.shownView = "";
    return;
  }
  if (viewKey(view) === ui.shownView) return; // keep what the person typed
  ui.shownView = viewKey(view);
  const close = () => {
    ui.dismissedViews.add(viewKey(view));
    renderModal();
    control("close", { user: ui.user, view_id: view.id }).catch(() => {});
  };
  $("modal").replaceChildren(
    h("header", { html: textObject(view.title) }),
    h("div", { class: "body" }, (view.blocks || []).map((b, index) => renderBlock(b, { view_id: view.id, index }))),
    h("footer", {},
      h("button", { type: "button", class: "slack-button", onclick: close }, view.close ? view.close.text : "Cancel"),
      view.submit ? h("button", { type: "submit", class: "slack-button primary" }, view.submit.text) : null));
  $("modal").onsubmit = (event) => {
    event.preventDefault();
    submitModal(view);
  };
  backdrop.hidden = false;
}

async function submitModal(view) {
  try {
    const answer = appAnswer(await control("submit", { user: ui.user, view_id: view.id, values: await modalValues(view) }));
    for (const node of document.querySelectorAll("#modal .error")) node.textContent = "";
    if (answer.response_action === "errors") {
      const blocks = view.blocks || [];
      for (const [id, message] of Object.entries(answer.errors || {})) {
        const index = (await Promise.all(blocks.map(blockId))).indexOf(id);
        const node = index >= 0 && $(`modal-input-${index}`).parentElement.querySelector(".error");
        if (node) node.textContent = message;
      }
      return;
    }
    if (answer.response_action !== "update" && answer.response_action !== "push") {
      ui.dismissedViews.add(viewKey(view));
    }
    await refresh(true);
  } catch (error) {
    toast(`Could not submit: ${error.message}`);
  }
}

// ---- actions --------------------------------------------------------------------------------

async function act(context, element, extra) {
  if (!ui.user) {
    toast("Pick who you are first (top left).");
    return;
  }
  const payload = {
    user: ui.user, action_id: element.action_id, block_id: context.block_id,
    ...(context.view_id ? { view_id: context.view_id } : { channel: context.channel, ts: context.ts }),
    ...(context.ephemeral ? { ephemeral: true } : {}),
    ...extra,
  };
  try {
    appAnswer(await control("click", payload));
    await refresh(true);
  } catch (error) {
    toast(`Could not deliver the click: ${error.message}`);
  }
}

function openThread(channel, ts) {
  ui.thread = { channel, ts };
  renderThread();
}

async function sendCommand(event) {
  event.preventDefault();
  const input = $("composer-text");
  const match = input.value.trim().match(/^(\/\S+)\s*([\s\S]*)$/);
  if (!match) {
    toast("Type a slash command, e.g. /dealcycle todo; reply to messages in their thread.");
    return;
  }
  try {
    const answer = appAnswer(await control("command", { user: ui.user, command: match[1], text: match[2], channel: ui.current !== "home" ? ui.current : undefined }));
    input.value = "";
    if (answer.text && !(answer.blocks || []).length) toast(answer.text);
    await refresh(true);
  } catch (error) {
    toast(`Could not send the command: ${error.message}`);
  }
}

async function sendReply(event) {
  event.preventDefault();
  const input = $("thread-text");
  if (!input.value.trim() || !ui.thread) return;
  try {
    appAnswer(await control("reply", { user: ui.user, channel: ui.thread.channel, thread_ts: ui.thread.ts, text: input.value }));
    input.value = "";
    await refresh(true);
  } catch (error) {
    toast(`Could not reply: ${error.message}`);
  }
}

async function openHome() {
  if (!ui.user) return;
  try {
    appAnswer(await control("home", { user: ui.user }));
    await refresh(true);
  } catch (error) {
    toast(`Could not open the Home tab: ${error.message}`);
  }
}

function select(id) {
  ui.current = id;
  if (location.hash.slice(1) !== id) history.replaceState(null, "", `#${id}`);
  render();
  if (id === "home") openHome();
}

function setUser(id) {
  ui.user = id;
  localStorage.setItem("slackPageUser", id);
  ui.shownView = "";
  render();
  if (ui.current === "home") openHome();
}

// ---- polling --------------------------------------------------------------------------------

function render() {
  if (!model) return;
  if (!ui.current && model.conversations.length) ui.current = model.conversations[0].id;
  renderSidebar();
  renderConversation();
  renderThread();
  renderModal();
}

async function refresh(force = false) {
  if (polling && !force) return;
  polling = true;
  try {
    const state = await control("state");
    const text = JSON.stringify(state);
    if (force || text !== lastStateText) {
      lastStateText = text;
      model = normalize(state);
      render();
    }
  } catch (error) {
    toast(`The Slack fake is not answering: ${error.message}`);
  } finally {
    polling = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("user-picker").addEventListener("change", (e) => setUser(e.target.value));
  $("other-user").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = $("other-user-id").value.trim().toUpperCase();
    if (!/^[UW][A-Z0-9]{2,}$/.test(id)) {
      toast("A Slack user id looks like U0123ABCD.");
      return;
    }
    ui.extraUsers = [...new Set([...ui.extraUsers, id])];
    localStorage.setItem("slackPageExtraUsers", JSON.stringify(ui.extraUsers));
    $("other-user-id").value = "";
    setUser(id);
  });
  document.querySelector("nav").addEventListener("click", (event) => {
    const link = event.target.closest("a.conversation");
    if (!link) return;
    event.preventDefault();
    select(link.dataset.id);
  });
  $("close-thread").addEventListener("click", () => { ui.thread = null; renderThread(); });
  $("composer").addEventListener("submit", sendCommand);
  $("thread-composer").addEventListener("submit", sendReply);
  refresh();
  setInterval(refresh, POLL_MS);
});
