// Chat page for `kvinfer serve`: streams replies from /v1/chat/completions and shows the
// server's KV cache state from /stats. Plain browser JavaScript with no dependencies.
"use strict";

const STATS_INTERVAL_MS = 1000;
const STATS_TIMEOUT_MS = 3000;
const API_KEY_STORAGE = "kvinfer.apiKey";

const elements = {
  messages: document.getElementById("messages"),
  emptyHint: document.getElementById("empty-hint"),
  composer: document.getElementById("composer"),
  input: document.getElementById("message-input"),
  send: document.getElementById("send-button"),
  stop: document.getElementById("stop-button"),
  newChat: document.getElementById("new-chat-button"),
  temperature: document.getElementById("temperature"),
  maxTokens: document.getElementById("max-tokens"),
  systemPrompt: document.getElementById("system-prompt"),
  apiKey: document.getElementById("api-key"),
  kvStatus: document.getElementById("kv-status"),
  modelName: document.getElementById("model-name"),
  blocksUsed: document.getElementById("kv-blocks-used"),
  blocksTotal: document.getElementById("kv-blocks-total"),
  blocksCached: document.getElementById("kv-blocks-cached"),
  barUsed: document.getElementById("kv-bar-used"),
  hitRate: document.getElementById("kv-hit-rate"),
  running: document.getElementById("kv-running"),
  waiting: document.getElementById("kv-waiting"),
  blockSize: document.getElementById("kv-block-size"),
  kvType: document.getElementById("kv-type"),
};

// User and assistant turns of the current conversation, oldest first, as sent to the
// server. The system prompt is not stored here because it is read from the settings
// on every request.
let conversation = [];
let activeController = null;
let modelId = null;
let statsTimer = null;
let statsInFlight = false;
let statsRefreshRequested = false;

// ---------------------------------------------------------------------------
// Conversation view

function scrollToBottom() {
  elements.messages.scrollTop = elements.messages.scrollHeight;
}

function isScrolledToBottom() {
  const container = elements.messages;
  return container.scrollHeight - container.scrollTop - container.clientHeight < 40;
}

// Appends a message element with a role label, a content box and an empty status line.
function appendMessage(kind, label, text) {
  const followOutput = isScrolledToBottom();
  elements.emptyHint.hidden = true;

  const message = document.createElement("div");
  message.className = `message ${kind}`;

  const role = document.createElement("div");
  role.className = "message-role";
  role.textContent = label;

  const content = document.createElement("div");
  content.className = "message-content";
  content.textContent = text;

  const status = document.createElement("div");
  status.className = "message-status";

  message.append(role, content, status);
  elements.messages.append(message);
  if (followOutput) {
    scrollToBottom();
  }
  return { element: message, content, status };
}

function appendError(text) {
  return appendMessage("error", "Error", text);
}

function setBusy(busy) {
  elements.send.disabled = busy;
  elements.stop.disabled = !busy;
}

function clearConversation() {
  if (activeController) {
    activeController.abort();
  }
  conversation = [];
  for (const message of elements.messages.querySelectorAll(".message")) {
    message.remove();
  }
  elements.emptyHint.hidden = false;
  elements.input.focus();
}

// ---------------------------------------------------------------------------
// Settings

function loadApiKey() {
  try {
    elements.apiKey.value = localStorage.getItem(API_KEY_STORAGE) || "";
  } catch (error) {
    // localStorage throws when the browser blocks storage for this page.
    console.warn("API key storage is unavailable:", error);
  }
}

function saveApiKey() {
  const key = elements.apiKey.value.trim();
  try {
    if (key) {
      localStorage.setItem(API_KEY_STORAGE, key);
    } else {
      localStorage.removeItem(API_KEY_STORAGE);
    }
  } catch (error) {
    console.warn("API key storage is unavailable:", error);
  }
}

function authHeaders() {
  const key = elements.apiKey.value.trim();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

// Reads temperature and max tokens. Throws an Error with a message for the user when a
// value is invalid.
function readSamplingSettings() {
  const temperature = Number(elements.temperature.value);
  if (elements.temperature.value.trim() === "" || !Number.isFinite(temperature) || temperature < 0 || temperature > 2) {
    throw new Error("Invalid temperature: enter a number from 0 to 2 in the settings.");
  }
  const maxTokens = Number(elements.maxTokens.value);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new Error("Invalid max tokens: enter a whole number of at least 1 in the settings.");
  }
  return { temperature, maxTokens };
}

// ---------------------------------------------------------------------------
// Server requests

// Returns the message of an OpenAI-style error body, or a description of the status.
async function readErrorMessage(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && body.error && typeof body.error.message === "string") {
      return `${body.error.message} (HTTP ${response.status})`;
    }
  } catch (error) {
    // The body is not JSON, so fall through and show the status and raw text.
  }
  const detail = text.trim().slice(0, 200);
  return `The server returned HTTP ${response.status} ${response.statusText}${detail ? `: ${detail}` : ""}`;
}

// Returns the id of the served model from /v1/models, or the name reported by /stats
// when /v1/models fails.
async function resolveModelId(fallbackName) {
  if (modelId) {
    return modelId;
  }
  try {
    const response = await fetch("v1/models", { headers: authHeaders() });
    if (response.ok) {
      const body = await response.json();
      if (Array.isArray(body.data) && body.data.length > 0 && body.data[0].id) {
        modelId = body.data[0].id;
        return modelId;
      }
    }
  } catch (error) {
    console.warn("GET /v1/models failed:", error);
  }
  return fallbackName;
}

// Splits a server-sent event stream into the data payloads of its events. An event may
// arrive across several reads, so text is buffered until the blank line that ends it.
async function* readEventData(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  let buffer = "";
  let finished = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      finished = done;
      pending += done ? decoder.decode() : decoder.decode(value, { stream: true });
      // SSE lines may end with "\r\n", "\r" or "\n". A trailing "\r" waits for the next
      // read, because it may be the first half of a "\r\n".
      const complete = !done && pending.endsWith("\r") ? pending.length - 1 : pending.length;
      buffer += pending.slice(0, complete).replace(/\r\n?/g, "\n");
      pending = pending.slice(complete);

      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5))
          .join("\n");
        if (data !== "") {
          yield data;
        }
      }
      if (done) {
        return;
      }
    }
  } finally {
    // The caller stops reading at [DONE] or on an error, so release the connection.
    if (!finished) {
      reader.cancel().catch(() => {});
    }
  }
}

function formatRate(tokens, seconds) {
  return seconds > 0 ? `${(tokens / seconds).toFixed(1)} tokens/s` : "";
}

// Builds the status line under a reply from the usage chunk and client-side timings.
function describeReply(usage, finishReason, timing) {
  const parts = [];
  if (usage) {
    const cached = usage.prompt_tokens_details ? usage.prompt_tokens_details.cached_tokens : undefined;
    parts.push(`prompt ${usage.prompt_tokens} tokens`);
    parts.push(`cached ${cached ?? "?"}`);
    parts.push(`completion ${usage.completion_tokens}`);
    // Generation speed counts the tokens after the first one over the time since the
    // first one arrived, so the prompt's processing time is not part of it.
    if (usage.completion_tokens > 1 && timing.firstTokenAt !== null) {
      const rate = formatRate(usage.completion_tokens - 1, (timing.endAt - timing.firstTokenAt) / 1000);
      if (rate) {
        parts.push(rate);
      }
    }
  } else {
    parts.push("the server sent no token counts");
  }
  if (timing.firstTokenAt !== null) {
    parts.push(`first token after ${((timing.firstTokenAt - timing.startAt) / 1000).toFixed(2)} s`);
  }
  if (finishReason === "length") {
    parts.push("stopped at max tokens");
  } else if (finishReason && finishReason !== "stop") {
    parts.push(`finish reason: ${finishReason}`);
  }
  return parts.join(" · ");
}

// Sends the conversation and streams the reply into `reply`. Returns the reply text and
// how the request ended: "done", "stopped" (the user pressed Stop) or "failed".
async function streamReply(requestBody, reply, controller) {
  const timing = { startAt: performance.now(), firstTokenAt: null, endAt: null };
  let text = "";
  let usage = null;
  let finishReason = null;
  let sawDone = false;
  let responded = false;

  try {
    const response = await fetch("v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
      body: JSON.stringify(requestBody),
      signal: controller.signal,
    });
    responded = true;
    if (!response.ok) {
      appendError(await readErrorMessage(response));
      return { text, outcome: "failed" };
    }
    if (!response.body) {
      appendError("The browser cannot read streamed responses (response.body is missing).");
      return { text, outcome: "failed" };
    }

    for await (const data of readEventData(response.body)) {
      if (data === "[DONE]") {
        sawDone = true;
        break;
      }
      let chunk;
      try {
        chunk = JSON.parse(data);
      } catch (error) {
        throw new Error(`The server sent an event that is not valid JSON: ${data.slice(0, 200)}`);
      }
      if (chunk.error) {
        appendError(chunk.error.message || JSON.stringify(chunk.error));
        return { text, outcome: "failed" };
      }
      if (chunk.usage) {
        usage = chunk.usage;
      }
      const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
      if (!choice) {
        continue;
      }
      if (choice.delta && typeof choice.delta.content === "string" && choice.delta.content !== "") {
        if (timing.firstTokenAt === null) {
          timing.firstTokenAt = performance.now();
        }
        const follow = isScrolledToBottom();
        text += choice.delta.content;
        reply.content.textContent = text;
        if (follow) {
          scrollToBottom();
        }
      }
      if (choice.finish_reason) {
        finishReason = choice.finish_reason;
      }
    }
  } catch (error) {
    if (controller.signal.aborted) {
      timing.endAt = performance.now();
      reply.status.textContent = usage ? `Stopped · ${describeReply(usage, finishReason, timing)}` : "Stopped";
      return { text, outcome: "stopped" };
    }
    // fetch() rejects with a TypeError when no HTTP response arrives at all.
    const reason = !responded && error instanceof TypeError
      ? `cannot reach the server at ${window.location.origin}; is kvinfer serve still running?`
      : error.message;
    appendError(`The request failed: ${reason}`);
    return { text, outcome: "failed" };
  }

  timing.endAt = performance.now();
  if (!sawDone) {
    appendError("The reply ended before the server sent [DONE], so it may be incomplete.");
  }
  const follow = isScrolledToBottom();
  reply.status.textContent = describeReply(usage, finishReason, timing);
  if (follow) {
    scrollToBottom();
  }
  return { text, outcome: "done" };
}

async function sendMessage() {
  const text = elements.input.value;
  if (text.trim() === "" || activeController) {
    return;
  }

  let sampling;
  try {
    sampling = readSamplingSettings();
  } catch (error) {
    appendError(error.message);
    return;
  }

  const controller = new AbortController();
  activeController = controller;
  setBusy(true);
  elements.input.value = "";

  // "New chat" during the request replaces `conversation`, so this turn is finished in
  // the array it started in and the new chat stays empty.
  const turns = conversation;
  const userTurn = { role: "user", content: text };
  const userMessage = appendMessage("user", "You", text);
  turns.push(userTurn);

  const reply = appendMessage("assistant", "Assistant", "");
  reply.element.dataset.state = "streaming";

  const messages = [];
  const systemPrompt = elements.systemPrompt.value.trim();
  if (systemPrompt) {
    messages.push({ role: "system", content: systemPrompt });
  }
  messages.push(...turns);

  const requestBody = {
    model: await resolveModelId(elements.modelName.dataset.name || ""),
    messages,
    temperature: sampling.temperature,
    max_tokens: sampling.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  };

  const result = await streamReply(requestBody, reply, controller);
  reply.element.dataset.state = "done";

  if (result.text !== "") {
    turns.push({ role: "assistant", content: result.text });
  } else {
    // Nothing came back, so the turn is dropped from the conversation. The text returns
    // to the input box so the user can edit it and send it again.
    reply.element.remove();
    turns.splice(turns.indexOf(userTurn), 1);
    userMessage.element.classList.add("discarded");
    userMessage.status.textContent = "No reply came back, so this message is not part of the conversation.";
    if (turns === conversation && elements.input.value === "") {
      elements.input.value = text;
    }
  }

  if (activeController === controller) {
    activeController = null;
  }
  setBusy(false);
  refreshStats();
}

// ---------------------------------------------------------------------------
// KV cache panel

function formatCount(value) {
  return Number.isFinite(value) ? String(value) : "–";
}

function showStats(stats) {
  elements.kvStatus.textContent = "";
  elements.kvStatus.classList.remove("unreachable");
  elements.modelName.textContent = stats.model || "–";
  elements.modelName.dataset.name = stats.model || "";

  elements.blocksUsed.textContent = formatCount(stats.kv_blocks_used);
  elements.blocksTotal.textContent = formatCount(stats.kv_blocks_total);
  elements.blocksCached.textContent = formatCount(stats.kv_blocks_cached);
  const usedPercent = stats.kv_blocks_total > 0 ? (100 * stats.kv_blocks_used) / stats.kv_blocks_total : 0;
  elements.barUsed.style.width = `${Math.min(100, usedPercent)}%`;
  elements.barUsed.parentElement.setAttribute("aria-valuenow", usedPercent.toFixed(0));

  const hitRate = Number(stats.prefix_cache_hit_rate);
  elements.hitRate.textContent = Number.isFinite(hitRate) ? `${(100 * hitRate).toFixed(1)} %` : "–";
  const hitTokens = formatCount(stats.prefix_cache_hit_tokens);
  const queryTokens = formatCount(stats.prefix_cache_query_tokens);
  elements.hitRate.title = `${hitTokens} of ${queryTokens} prompt tokens came from the cache`;

  elements.running.textContent = formatCount(stats.requests_running);
  elements.waiting.textContent = formatCount(stats.requests_waiting);
  elements.blockSize.textContent = Number.isFinite(stats.block_size) ? `${stats.block_size} tokens` : "–";
  elements.kvType.textContent = stats.kv_type || "–";
}

function showStatsUnreachable() {
  elements.kvStatus.textContent = "server unreachable";
  elements.kvStatus.classList.add("unreachable");
}

// Fetches /stats once and schedules the next poll. A call while a fetch is in flight
// only requests another fetch right after it, so fetches never overlap.
async function refreshStats() {
  if (statsInFlight) {
    statsRefreshRequested = true;
    return;
  }
  statsInFlight = true;
  clearTimeout(statsTimer);
  statsTimer = null;
  try {
    const response = await fetch("stats", { cache: "no-store", signal: AbortSignal.timeout(STATS_TIMEOUT_MS) });
    if (!response.ok) {
      throw new Error(`HTTP ${response.status}`);
    }
    showStats(await response.json());
  } catch (error) {
    showStatsUnreachable();
  }
  statsInFlight = false;

  if (statsRefreshRequested) {
    statsRefreshRequested = false;
    refreshStats();
  } else {
    statsTimer = setTimeout(refreshStats, STATS_INTERVAL_MS);
  }
}

// ---------------------------------------------------------------------------
// Wiring

elements.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});

elements.input.addEventListener("keydown", (event) => {
  // Enter while an input method is composing text confirms the composition instead.
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendMessage();
  }
});

elements.stop.addEventListener("click", () => {
  if (activeController) {
    activeController.abort();
  }
});

elements.newChat.addEventListener("click", clearConversation);
elements.apiKey.addEventListener("input", saveApiKey);
elements.apiKey.addEventListener("change", saveApiKey);

loadApiKey();
refreshStats();
elements.input.focus();
