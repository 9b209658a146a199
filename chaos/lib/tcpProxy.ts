// A TCP proxy between a process and PostgreSQL that can go half-open: `freeze()` makes every
// connection open so far silently drop what it receives, in both directions, without closing —
// what a dead NAT entry or a pulled cable looks like to both ends. New connections still pass.
import net from "node:net";

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  frozen: boolean;
  dropped: boolean;
}

export class TcpProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<Pair>();
  /** Connections frozen so far, and how many of those the client side has since given up on. */
  frozenCount = 0;
  droppedByClient = 0;

  constructor(private readonly targetPort: number) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      const pair: Pair = { client, upstream, frozen: false, dropped: false };
      this.pairs.add(pair);
      client.on("data", (d) => void (pair.frozen || upstream.write(d)));
      upstream.on("data", (d) => void (pair.frozen || client.write(d)));
      const end = () => {
        if (pair.frozen) return; // a frozen link says nothing, not even goodbye
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      const clientGaveUp = () => {
        if (pair.frozen && !pair.dropped) {
          pair.dropped = true;
          this.droppedByClient++;
        }
      };
      client.on("end", clientGaveUp);
      client.on("close", clientGaveUp);
      client.on("close", end);
      upstream.on("close", end);
      client.on("error", () => {});
      upstream.on("error", () => {});
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  freeze(): void {
    for (const pair of this.pairs) {
      if (!pair.frozen) this.frozenCount++;
      pair.frozen = true;
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
