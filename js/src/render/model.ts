/** The anywidget model surface every labkit widget uses (see @anywidget/types); the manager
 * page's websocket model implements the same. */
export interface Model {
  get(name: string): any;
  set(name: string, value: unknown): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  on(event: string, cb: (...args: any[]) => void): void;
  off(event?: string | null, cb?: ((...args: any[]) => void) | null): void;
}

/** `model.send`, for messages sent on a timer or a frame rather than on a user's action:
 * returns false instead of throwing when the kernel connection is gone (Voila shuts its kernel
 * down when the page unloads, while the page's timers and animation frames still fire, and
 * the comm then throws "Cannot send"). Nothing can be delivered then, so nothing is lost. */
export function sendIfConnected(model: Model, content: unknown, buffers?: ArrayBuffer[]): boolean {
  try {
    model.send(content, undefined, buffers);
    return true;
  } catch {
    return false;
  }
}
