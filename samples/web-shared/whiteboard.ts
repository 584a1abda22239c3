// A shared whiteboard on a canvas: freehand strokes, undo and clear, sent through the call room.
// Coordinates are normalised to 0..1 so both sides draw the same picture at any size.
import type { CallRoom, WhiteboardOperation, WhiteboardPoint } from "@callern/sdk";
import { describe, h } from "./dom.js";

type Stroke = { seq: number; authorId: string; points: WhiteboardPoint[]; color: string; width: number };

export class WhiteboardView {
  readonly element: HTMLElement;
  private readonly canvas = h("canvas", { width: 800, height: 500, class: "board", "aria-label": "Whiteboard: draw with the mouse, pen or finger" });
  private readonly status = h("p", { class: "status", role: "status" });
  private strokes: Stroke[] = [];
  private drawing: WhiteboardPoint[] | null = null;
  private readonly color: string;

  constructor(private readonly room: CallRoom, myId: string) {
    this.color = myId.startsWith("teacher") ? "#c2410c" : "#1d4ed8";
    const undo = h("button", { type: "button" }, "Undo");
    const clear = h("button", { type: "button" }, "Clear board");
    undo.addEventListener("click", () => void this.send({ kind: "undo", data: {} }));
    clear.addEventListener("click", () => void this.send({ kind: "clear", data: {} }));
    this.element = h("section", { class: "whiteboard", "aria-label": "Whiteboard" }, h("h3", {}, "Whiteboard"), this.canvas, h("div", { class: "row" }, undo, clear), this.status);
    this.canvas.addEventListener("pointerdown", (e) => this.begin(e));
    this.canvas.addEventListener("pointermove", (e) => this.extend(e));
    this.canvas.addEventListener("pointerup", () => void this.finish());
    this.canvas.addEventListener("pointerleave", () => void this.finish());
    room.onWhiteboard((operation) => this.apply(operation));
    this.render();
  }

  /** Loads the current board (a participant who joins late or reloads sees what is there). */
  async load(): Promise<void> {
    const board = await this.room.whiteboard();
    for (const operation of board.operations) this.apply(operation);
  }

  private point(event: PointerEvent): WhiteboardPoint {
    const box = this.canvas.getBoundingClientRect();
    const round = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
    return [round((event.clientX - box.left) / box.width), round((event.clientY - box.top) / box.height)];
  }

  private begin(event: PointerEvent): void {
    this.canvas.setPointerCapture(event.pointerId);
    this.drawing = [this.point(event)];
  }

  private extend(event: PointerEvent): void {
    if (!this.drawing) return;
    this.drawing.push(this.point(event));
    this.render();
  }

  private async finish(): Promise<void> {
    const points = this.drawing;
    this.drawing = null;
    if (!points || points.length < 2) return;
    // Long strokes are thinned so the operation stays well under the 16 KiB limit.
    const step = Math.ceil(points.length / 400);
    await this.send({ kind: "stroke", data: { points: points.filter((_, i) => i % step === 0 || i === points.length - 1), color: this.color, width: 3 } });
  }

  private async send(operation: Parameters<CallRoom["sendWhiteboard"]>[0]): Promise<void> {
    this.status.textContent = "";
    try {
      this.apply(await this.room.sendWhiteboard(operation));
    } catch (error) {
      this.status.textContent = `Not sent: ${describe(error)}`;
      this.render();
    }
  }

  /** Applies one operation (idempotent by seq: our own comes back as an event too). */
  private apply(operation: WhiteboardOperation): void {
    if (operation.kind === "stroke" && !this.strokes.some((s) => s.seq === operation.seq)) {
      this.strokes.push({ seq: operation.seq, authorId: operation.authorId, ...operation.data });
      this.strokes.sort((a, b) => a.seq - b.seq);
    } else if (operation.kind === "clear") {
      this.strokes = this.strokes.filter((s) => s.seq > operation.seq);
    } else if (operation.kind === "undo") {
      const mine = this.strokes.filter((s) => s.authorId === operation.authorId && s.seq < operation.seq).at(-1);
      this.strokes = this.strokes.filter((s) => s !== mine);
    } else if (operation.kind === "erase") {
      this.strokes = this.strokes.filter((s) => !operation.data.seqs.includes(s.seq));
    }
    this.render();
  }

  private render(): void {
    const context = this.canvas.getContext("2d");
    if (!context) return;
    const { width, height } = this.canvas;
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);
    const draw = (points: WhiteboardPoint[], color: string, lineWidth: number): void => {
      context.strokeStyle = color;
      context.lineWidth = lineWidth;
      context.lineCap = context.lineJoin = "round";
      context.beginPath();
      points.forEach(([x, y], i) => (i ? context.lineTo(x * width, y * height) : context.moveTo(x * width, y * height)));
      context.stroke();
    };
    for (const stroke of this.strokes) draw(stroke.points, stroke.color, stroke.width);
    if (this.drawing) draw(this.drawing, this.color, 3);
    // For tests and assistive tech: how many strokes are on the board, and by whom.
    this.canvas.dataset.strokes = String(this.strokes.length);
    this.canvas.dataset.authors = [...new Set(this.strokes.map((s) => s.authorId))].join(" ");
  }
}
