const assert = require("assert");
const app = require("../app");

// Calls the route handler directly: no port is opened during the build.
describe("GET /", () => {
  it("answers HelloWorld from Node", () => {
    const layer = app._router.stack.find(
      (l) => l.route && l.route.path === "/" && l.route.methods.get
    );
    assert.ok(layer, "no GET / route");
    let body;
    layer.route.stack[0].handle({}, { send: (b) => { body = b; } });
    assert.strictEqual(body, "HelloWorld from Node");
  });
});
