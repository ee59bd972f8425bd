const app = require("./app");

const PORT = 3000;

const server = app.listen(PORT, "0.0.0.0", () => {
  console.log(`Listening on http://0.0.0.0:${PORT}`);
});

// As PID 1, node ignores SIGTERM unless it handles it: docker stop would wait for the kill.
// Exit at once: server.close() alone would wait for idle keep-alive connections (5 s).
process.on("SIGTERM", () => {
  server.close();
  process.exit(0);
});
