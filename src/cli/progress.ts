/** A progress bar for long replays on a terminal (none when output is not a TTY). */
export function progressBar(out: NodeJS.WriteStream): { update(n: number, f: number): void; done(): void } {
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(n, f) {
      const now = Date.now();
      if (now - last < 200 || now - started < 500) return;
      last = now;
      shown = true;
      const width = 30;
      const full = Math.round(f * width);
      const rate = n / ((now - started) / 1000) / 1e6;
      out.write(
        `\r[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}% ${n} packets ${rate.toFixed(2)} Mpps`,
      );
    },
    done() {
      if (shown) out.write('\r\x1b[K');
    },
  };
}
