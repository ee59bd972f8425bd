module.exports = {
  port: 3000,
  host: "0.0.0.0",
};
