// A minimal anywidget-compatible model over the manager page's websocket, so the viewer ESM
// renders in the page exactly as in a notebook: get/set/on/off/save_changes/send + buffers.
// Frames (both ways): uint32 LE header length | JSON header | buffers (header.buffers = lengths).

export type Listener = (...args: any[]) => void;

/** Encode one frame; buffers are copied after the header. */
export function encodeFrame(header: Record<string, unknown>, buffers: ArrayBuffer[] = []): ArrayBuffer {
  const head = new TextEncoder().encode(JSON.stringify({ ...header, buffers: buffers.map((b) => b.byteLength) }));
  const total = 4 + head.byteLength + buffers.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.byteLength, true);
  out.set(head, 4);
  let pos = 4 + head.byteLength;
  for (const b of buffers) {
    out.set(new Uint8Array(b), pos);
    pos += b.byteLength;
  }
  return out.buffer;
}

/** Decode one frame into its header and DataViews on its buffers (no copies). */
export function decodeFrame(frame: ArrayBuffer): { header: any; buffers: DataView[] } {
  const n = new DataView(frame).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(frame, 4, n)));
  const buffers: DataView[] = [];
  let pos = 4 + n;
  for (const len of header.buffers ?? []) {
    buffers.push(new DataView(frame, pos, len));
    pos += len;
  }
  return { header, buffers };
}

export interface Channel {
  send(header: Record<string, unknown>, buffers?: ArrayBuffer[]): void;
}

export class WsModel {
  private state: Record<string, unknown>;
  private dirty: Record<string, unknown> = {};
  private listeners = new Map<string, Set<Listener>>();

  constructor(
    private channel: Channel,
    readonly modelId: string,
    state: Record<string, unknown>,
  ) {
    this.state = { ...state };
  }

  get(name: string): any {
    return this.state[name];
  }

  set(name: string, value: unknown): void {
    this.state[name] = value;
    this.dirty[name] = value;
    this.emit(`change:${name}`, value);
    this.emit("change");
  }

  save_changes(): void {
    if (Object.keys(this.dirty).length === 0) return;
    this.channel.send({ type: "update", model_id: this.modelId, state: this.dirty });
    this.dirty = {};
  }

  send(content: unknown, _callbacks?: unknown, buffers?: ArrayBuffer[]): void {
    this.channel.send({ type: "custom", model_id: this.modelId, content }, buffers ?? []);
  }

  on(event: string, cb: Listener): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Listener | null): void {
    if (!event) this.listeners.clear();
    else if (!cb) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(cb);
  }

  /** State pushed by the server (never echoed back). */
  applyRemote(changes: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(changes)) {
      this.state[k] = v;
      this.emit(`change:${k}`, v);
    }
    this.emit("change");
  }

  /** A custom message from the server. */
  receive(content: unknown, buffers: DataView[]): void {
    this.emit("msg:custom", content, buffers);
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const cb of Array.from(this.listeners.get(event) ?? [])) {
      try {
        cb(...args);
      } catch (err) {
        console.error(`labkit: listener for ${event} failed`, err);
      }
    }
  }
}
