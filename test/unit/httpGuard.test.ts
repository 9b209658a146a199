// The optional SSRF guard for d.http (engine/execution/httpGuard.ts): with
// UPDRAFT_HTTP_BLOCK_PRIVATE on, URLs leading to non-public addresses fail the task, naming the
// address; the allow-list and the guard being off let them through; redirects are not followed.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dag } from "updraft";
import { testDag } from "updraft/testing";
import { checkHttpUrl, httpGuardFromEnv, isBlockedAddress } from "../../engine/execution/httpGuard.js";

describe("d.http SSRF guard", () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "http://169.254.169.254/latest/meta-data" });
        return res.end();
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("classifies addresses: loopback, private, link-local, CGNAT, IPv6 local and mapped are blocked; public ones are not", () => {
    for (const a of ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "not-an-ip"]) {
      expect(isBlockedAddress(a), a).toBe(true);
    }
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) expect(isBlockedAddress(a), a).toBe(false);
  });

  it("reads its settings from the environment, off by default", async () => {
    expect(httpGuardFromEnv({}).enabled).toBe(false);
    const guard = httpGuardFromEnv({ UPDRAFT_HTTP_BLOCK_PRIVATE: "true", UPDRAFT_HTTP_ALLOW_HOSTS: "Internal.Example, 127.0.0.1" });
    expect(guard.enabled).toBe(true);
    expect([...guard.allowHosts]).toEqual(["internal.example", "127.0.0.1"]);
    await expect(checkHttpUrl("http://localhost:1/x", { enabled: true, allowHosts: new Set() })).rejects.toThrow(/resolves to (127\.0\.0\.1|::1), a non-public address/);
    await expect(checkHttpUrl("file:///etc/passwd", { enabled: true, allowHosts: new Set() })).rejects.toThrow(/only http and https/);
    await expect(checkHttpUrl("http://93.184.216.34/", { enabled: true, allowHosts: new Set() })).resolves.toBeUndefined();
    await expect(checkHttpUrl("http://127.0.0.1/", { enabled: false, allowHosts: new Set() })).resolves.toBeUndefined();
  });

  it("fails a d.http task that targets a private address when on, and lets it run when off or allowed", async () => {
    const def = dag({ id: "guarded" }, (d) => {
      d.http("inward", { url: `http://127.0.0.1:${port}/data` });
      d.http("redirected", { url: `http://127.0.0.1:${port}/redirect` });
    });
    const saved = { block: process.env.UPDRAFT_HTTP_BLOCK_PRIVATE, allow: process.env.UPDRAFT_HTTP_ALLOW_HOSTS };
    try {
      process.env.UPDRAFT_HTTP_BLOCK_PRIVATE = "true";
      delete process.env.UPDRAFT_HTTP_ALLOW_HOSTS;
      const blocked = await testDag(def);
      expect(blocked.tasks.inward!.state).toBe("failed");
      expect(JSON.stringify(blocked.tasks.inward)).toMatch(/127\.0\.0\.1, a non-public address, refused/);

      process.env.UPDRAFT_HTTP_ALLOW_HOSTS = "127.0.0.1";
      const allowed = await testDag(def);
      expect(allowed.tasks.inward!.value).toEqual({ ok: true });
      // Allowed host, but its redirect is not followed while the guard is on.
      expect(allowed.tasks.redirected!.state).toBe("failed");

      delete process.env.UPDRAFT_HTTP_BLOCK_PRIVATE;
      const off = await testDag(def);
      expect(off.tasks.inward!.value).toEqual({ ok: true });
    } finally {
      if (saved.block === undefined) delete process.env.UPDRAFT_HTTP_BLOCK_PRIVATE;
      else process.env.UPDRAFT_HTTP_BLOCK_PRIVATE = saved.block;
      if (saved.allow === undefined) delete process.env.UPDRAFT_HTTP_ALLOW_HOSTS;
      else process.env.UPDRAFT_HTTP_ALLOW_HOSTS = saved.allow;
    }
  });
});
