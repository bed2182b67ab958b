// configurable-http-proxy as sabaq runs it: the proxy's own command, with one change.
//
// The proxy decodes a request's path to find its route; a path that is not UTF-8 once
// percent-decoded (`/services/sabaq/api/v1/submissions/%FF/download`) made
// decodeURIComponent throw, and the proxy answered a bare 500 for a student's typo or a
// fuzzer. Such a path is now routed by its undecoded text and passed on unchanged, so the
// hub or sabaq's service answers it (a 400 in the reader's language).
//
// And an event stream (the hub's progress of a server's start) is answered uncompressed:
// the hub and users' servers compress text (issue 17), and a stream's small events gain
// nothing from it. The browser's EventSource asks for one with `Accept: text/event-stream`.
//
// Usage: node proxy.mjs <path of configurable-http-proxy's command> [its options ...]
import { realpathSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const command = realpathSync(process.argv[2]);
const library = path.join(path.dirname(command), "..", "lib", "configproxy.js");
const { default: ConfigurableProxy } = await import(pathToFileURL(library).href);

const targetForReq = ConfigurableProxy.prototype.targetForReq;
ConfigurableProxy.prototype.targetForReq = async function (req) {
  try {
    return await targetForReq.call(this, req);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    const url = req.url;
    req.url = url.replace(/%/g, "%25"); // decodes back to the undecoded text
    try {
      return await targetForReq.call(this, req);
    } finally {
      req.url = url;
    }
  }
};

const handleProxyWeb = ConfigurableProxy.prototype.handleProxyWeb;
ConfigurableProxy.prototype.handleProxyWeb = function (req, res) {
  if ((req.headers.accept || "").includes("text/event-stream")) delete req.headers["accept-encoding"];
  return handleProxyWeb.call(this, req, res);
};

process.argv.splice(2, 1); // the command reads its options from argv[2:]
await import(pathToFileURL(command).href);
