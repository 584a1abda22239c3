// Tiny DOM helpers: the sample apps are plain TypeScript, no framework, so they stay easy to copy.

type Attributes = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;
type Child = Node | string | null | undefined | false;

/** Creates an element: `h("button", { type: "button", onclick: go }, "Call")`. Attributes set to false/null are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== false && value !== null && value !== undefined) element.setAttribute(name, String(value));
  }
  element.append(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  return element;
}

/** Replaces an element's children. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}

/** "1:05:09", "12:03", for a number of seconds. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const [hours, minutes, secs] = parts.map((p) => String(p).padStart(2, "0")) as [string, string, string];
  return parts[0] ? `${Number(hours)}:${minutes}:${secs}` : `${Number(minutes)}:${secs}`;
}

/** "62 min" or "45 s": balances and earnings. */
export function minutes(seconds: number): string {
  return seconds >= 60 ? `${Math.floor(seconds / 60)} min` : `${seconds} s`;
}

/** A date and time in the browser's locale. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "—";
}

/** Runs an async action behind a button: disabled while it runs, errors shown in `status`. */
export async function busy<T>(button: HTMLButtonElement, status: Element, action: () => Promise<T>): Promise<T | undefined> {
  button.disabled = true;
  status.textContent = "";
  status.classList.remove("error");
  try {
    return await action();
  } catch (error) {
    status.textContent = describe(error);
    status.classList.add("error");
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** A readable sentence for an error from the school backend, the REST client or the hub. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (error && typeof error === "object") {
    const problem = error as { title?: string; detail?: string; errors?: Record<string, string[]> };
    const fields = Object.values(problem.errors ?? {}).flat();
    return [problem.title, problem.detail, ...fields].filter(Boolean).join(" ") || "Something went wrong.";
  }
  return String(error);
}
