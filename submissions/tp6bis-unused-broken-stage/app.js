const express = require("express");

const app = express();

app.get("/", (req, res) => {
  res.send("HelloWorld from Node");
});

module.exports = app;
