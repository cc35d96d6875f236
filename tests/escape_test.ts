import assert from "node:assert/strict";
import { EscapeFilter } from "../lib/cli/escape.ts";

const keys = (text: string) => new TextEncoder().encode(text);
const sent = (result: { send: Uint8Array }) => new TextDecoder().decode(result.send);

Deno.test("EscapeFilter: ~. ends the session only at the start of a line", () => {
  const filter = new EscapeFilter();
  assert.deepEqual(
    [sent(filter.take(keys("echo ~."))), filter.take(keys("x")).disconnect],
    ["echo ~.", false],
  );
  const ended = filter.take(keys("\n~.after"));
  assert.equal(sent(ended), "\n");
  assert.equal(ended.disconnect, true);
});

Deno.test("EscapeFilter: the first key of the session starts a line, and so does each after Enter", () => {
  assert.equal(new EscapeFilter().take(keys("~.")).disconnect, true);
  assert.equal(new EscapeFilter().take(keys("ls\r~.")).disconnect, true);
});

Deno.test("EscapeFilter: ~~ sends one ~, ~ and another key send both, split across reads alike", () => {
  const filter = new EscapeFilter();
  assert.equal(sent(filter.take(keys("~"))), "");
  assert.equal(sent(filter.take(keys("~"))), "~");
  assert.equal(sent(filter.take(keys("\r~"))), "\r");
  assert.equal(sent(filter.take(keys("/bin\r"))), "~/bin\r");
  // After ~~ the line has begun: a ~. there is text.
  assert.equal(sent(new EscapeFilter().take(keys("~~~."))), "~~.");
});
