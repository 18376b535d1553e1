// Calls a handler directly, in process, N times (after one warm-up call),
// and prints the nanoseconds the N calls took: the baseline of
// BenchmarkNodeDirectInProcess. Usage: node direct.cjs HANDLER_FILE N
const { handler } = require(process.argv[2]);
const n = Number(process.argv[3]);
const event = { op: 'echo', body: 'hello' };
(async () => {
  await handler(event, {});
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await handler(JSON.parse(JSON.stringify(event)), {});
  process.stdout.write(String(process.hrtime.bigint() - start));
})();
