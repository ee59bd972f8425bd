// Given by the lab (examples/labs/hello-node.toml): a server with no dependency.
const http = require("http");

const PORT = Number(process.env.PORT || 8080);

http
  .createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8" });
      res.end("Bonjour, Docker !\n");
      return;
    }
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" });
    res.end("Not found\n");
  })
  .listen(PORT, "0.0.0.0", () => console.log(`listening on 0.0.0.0:${PORT}`));
