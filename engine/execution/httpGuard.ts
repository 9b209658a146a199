// The optional SSRF guard for d.http (issue 5 item 4). With UPDRAFT_HTTP_BLOCK_PRIVATE=true in the
// worker's environment, a d.http task may only reach public addresses: a URL whose host is, or
// resolves to, a loopback, private, link-local (cloud metadata), CGNAT, multicast or unspecified
// address fails the task, unless the host is listed in UPDRAFT_HTTP_ALLOW_HOSTS (comma-separated).
// Redirects are then not followed (a public URL could redirect inward). Addresses are checked with
// node:net's BlockList. What remains: DNS rebinding between this lookup and fetch's own — the
// guard narrows SSRF, a network policy on the workers closes it.
import dns from "node:dns/promises";
import net from "node:net";

const BLOCKED = new net.BlockList();
for (const [prefix, bits] of [
  ["0.0.0.0", 8], ["10.0.0.0", 8], ["100.64.0.0", 10], ["127.0.0.0", 8], ["169.254.0.0", 16],
  ["172.16.0.0", 12], ["192.0.0.0", 24], ["192.168.0.0", 16], ["198.18.0.0", 15], ["224.0.0.0", 4], ["240.0.0.0", 4],
] as const) BLOCKED.addSubnet(prefix, bits, "ipv4");
for (const [prefix, bits] of [["::", 128], ["::1", 128], ["fc00::", 7], ["fe80::", 10], ["ff00::", 8]] as const) BLOCKED.addSubnet(prefix, bits, "ipv6");

export interface HttpGuard {
  enabled: boolean;
  allowHosts: Set<string>;
}

export function httpGuardFromEnv(env: NodeJS.ProcessEnv = process.env): HttpGuard {
  return {
    enabled: /^(1|true|yes)$/i.test(env.UPDRAFT_HTTP_BLOCK_PRIVATE ?? ""),
    allowHosts: new Set((env.UPDRAFT_HTTP_ALLOW_HOSTS ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean)),
  };
}

/** True when `address` (IPv4 or IPv6, IPv4-mapped included) is not a public address. */
export function isBlockedAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return BLOCKED.check(mapped[1]!, "ipv4");
  const family = net.isIP(address);
  if (family === 0) return true;
  return BLOCKED.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Throws, naming the URL and the address, when the guard is on and the URL leads inward. */
export async function checkHttpUrl(url: string, guard: HttpGuard): Promise<void> {
  if (!guard.enabled) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`d.http: not a URL: ${url}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`d.http: only http and https URLs are allowed, got ${parsed.protocol}`);
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (guard.allowHosts.has(host)) return;
  const addresses = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true })).map((a) => a.address);
  const inward = addresses.find(isBlockedAddress);
  if (inward !== undefined) {
    throw new Error(`d.http: ${url} resolves to ${inward}, a non-public address, refused (UPDRAFT_HTTP_BLOCK_PRIVATE is on; list the host in UPDRAFT_HTTP_ALLOW_HOSTS to allow it)`);
  }
}
