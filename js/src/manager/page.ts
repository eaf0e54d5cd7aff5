// The manager page: a live list of windows (close buttons) and one viewer per window, rendered
// by the same ESM as the notebook widget (static/viewer.js) through WsModel.
import { decodeFrame, encodeFrame, WsModel } from "./ws_model";

interface Summary {
  index: number;
  uid: string;
  name: string;
  shape: number[];
  dims: string[];
  dtype: string;
  source: string;
  watched: boolean;
  version: number;
  link_group: string | null;
}

type RenderFn = (ctx: { model: WsModel; el: HTMLElement }) => (() => void) | void;

const CSS = `
#lk-manager h1 { font-size: 16px; margin: 0 0 8px; }
#lk-manager .lk-conn { font-weight: 400; font-size: 12px; margin-left: 8px; }
#lk-manager .lk-conn.lk-down { color: #c53030; }
#lk-manager table { border-collapse: collapse; margin-bottom: 12px; }
#lk-manager th, #lk-manager td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
#lk-manager .lk-cards { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
#lk-manager .lk-card { background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 6px; }
`;

declare global {
  interface Window {
    labkit_manager?: { windows: Summary[]; open: string[]; errors: string[]; connected: boolean };
  }
}

export async function startPage(root: HTMLElement): Promise<void> {
  const query = location.search;
  const viewerUrl = new URL(`./viewer.js${query}`, import.meta.url).href;
  const viewer: { render: RenderFn } = await import(/* @vite-ignore */ viewerUrl);
  const state = { windows: [] as Summary[], open: [] as string[], errors: [] as string[], connected: false };
  window.labkit_manager = state;

  const style = document.createElement("style");
  style.textContent = CSS;
  const heading = document.createElement("h1");
  heading.textContent = `labkit manager ${root.dataset.manager ?? ""}`;
  const conn = document.createElement("span");
  conn.className = "lk-conn";
  heading.append(conn);
  const table = document.createElement("table");
  table.className = "lk-windows";
  const cards = document.createElement("div");
  cards.className = "lk-cards";
  root.replaceChildren(style, heading, table, cards);

  const wsUrl = new URL(`ws${query}`, location.href);
  wsUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  let ws: WebSocket | null = null;
  let retryMs = 500;
  const channel = {
    send(header: Record<string, unknown>, buffers: ArrayBuffer[] = []) {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(encodeFrame(header, buffers));
    },
  };
  const models = new Map<string, { model: WsModel; card: HTMLElement; cleanup: (() => void) | void }>();

  function renderList() {
    const head = "<tr><th>#</th><th>name</th><th>shape</th><th>dtype</th><th>source</th><th>watched</th><th>linked</th><th>version</th><th></th></tr>";
    table.innerHTML = head;
    for (const w of state.windows) {
      const tr = document.createElement("tr");
      tr.dataset.uid = w.uid;
      const cells = [String(w.index), w.name, `(${w.shape.join(", ")})`, w.dtype, w.source, w.watched ? "watched" : "", w.link_group ?? "", String(w.version)];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      const close = document.createElement("button");
      close.className = "lk-close";
      close.textContent = "Close";
      close.addEventListener("click", () => channel.send({ type: "close_window", uid: w.uid }));
      td.append(close);
      tr.append(td);
      table.append(tr);
    }
    if (state.windows.length === 0) table.insertAdjacentHTML("beforeend", "<tr><td colspan=9>no windows</td></tr>");
  }

  function closeModel(id: string) {
    const m = models.get(id);
    if (!m) return;
    models.delete(id);
    if (typeof m.cleanup === "function") m.cleanup();
    m.card.remove();
    state.open = Array.from(models.keys());
  }

  // reconnects on its own (e.g. a manager restarted with the same --page-port); the server sends
  // the list and every window again, so the old viewers are dropped first
  function connect() {
    const socket = new WebSocket(wsUrl.href);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      for (const id of Array.from(models.keys())) closeModel(id);
      state.connected = true;
      retryMs = 500;
      conn.textContent = "connected";
      conn.className = "lk-conn";
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      state.connected = false;
      conn.textContent = `disconnected (manager stopped?) — retrying every ${Math.round(retryMs / 1000)} s`;
      conn.className = "lk-conn lk-down";
      window.setTimeout(connect, retryMs);
      retryMs = Math.min(5000, retryMs * 2);
    };
    socket.onmessage = onMessage;
    ws = socket;
  }

  function onMessage(ev: MessageEvent) {
    const { header, buffers } = decodeFrame(ev.data as ArrayBuffer);
    const id = header.model_id as string;
    switch (header.type) {
      case "windows":
        state.windows = header.windows;
        renderList();
        break;
      case "open": {
        closeModel(id);
        const model = new WsModel(channel, id, header.state);
        const card = document.createElement("div");
        card.className = "lk-card";
        card.dataset.uid = id;
        cards.append(card);
        models.set(id, { model, card, cleanup: undefined });
        models.get(id)!.cleanup = viewer.render({ model, el: card });
        state.open = Array.from(models.keys());
        break;
      }
      case "update":
        models.get(id)?.model.applyRemote(header.state ?? {});
        break;
      case "custom":
        models.get(id)?.model.receive(header.content, buffers);
        break;
      case "close":
        closeModel(id);
        break;
      case "error":
        state.errors.push(String(header.message));
        console.warn("labkit manager:", header.message);
        break;
    }
  }

  connect();
}
