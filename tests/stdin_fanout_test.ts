import assert from "node:assert/strict";
import { StdinFanout } from "../lib/fleet/stdin_fanout.ts";
import { turn } from "./helpers.ts";

/** An endless source of numbered 1 KiB chunks, counting how many were read from it. */
function endlessSource(): { stream: ReadableStream<Uint8Array>; readonly pulled: number } {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(1024).fill(pulled++ % 256));
    },
  }, { highWaterMark: 0 });
  return {
    stream,
    get pulled() {
      return pulled;
    },
  };
}

Deno.test("StdinFanout: a reader runs no more than maxLead bytes ahead of the slowest open one, and on when that one reads or closes", async () => {
  const source = endlessSource();
  const fanout = new StdinFanout(source.stream, 2, { maxLead: 4096 });
  const fast = fanout.reader();
  const slow = fanout.reader();
  for (let index = 0; index < 4; index++) assert.equal((await fast.next())![0], index);

  // Four chunks ahead of a reader that reads nothing: the fast one waits.
  let settled = false;
  const fifth = fast.next().finally(() => settled = true);
  await turn();
  assert.equal(settled, false, "the fast reader waits for the slow one");
  assert.equal(source.pulled, 4, "the source is not read further meanwhile");

  // The slow one reads a chunk: the fast one may read one more.
  assert.equal((await slow.next())![0], 0);
  assert.equal((await fifth)![0], 4);
  assert.equal(source.pulled, 5);

  // The slow one goes away (its command ended): the fast one runs free.
  slow.close();
  for (let index = 5; index < 200; index++) assert.equal((await fast.next())![0], index % 256);
  fast.close();
  fanout.close();
});

Deno.test("StdinFanout: a reader that starts late reads the input from its start, and the others wait for it only maxLead ahead", async () => {
  const source = endlessSource();
  const fanout = new StdinFanout(source.stream, 2, { maxLead: 2048 });
  const first = fanout.reader();
  assert.equal((await first.next())![0], 0);
  assert.equal((await first.next())![0], 1);
  const late = fanout.reader();
  let settled = false;
  const third = first.next().finally(() => settled = true);
  await turn();
  assert.equal(settled, false);
  for (let index = 0; index < 2; index++) assert.equal((await late.next())![0], index);
  assert.equal((await third)![0], 2);
  first.close();
  late.close();
  fanout.close();
});
