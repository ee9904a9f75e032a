// Counts test cases in a TAP 14 stream from `tap --reporter=tap`: each file is a top-level
// subtest, and its direct children are the test cases. A file that fails without any
// failing child (it crashed at load, or timed out) counts as one failure.

export interface TapCounts {
  passed: number;
  failed: number;
  skipped: number;
}

const resultLine = /^(\s*)(not ok|ok) \d+(?: - (.*))?$/;

export function parseTapCounts(output: string): TapCounts {
  const counts: TapCounts = { passed: 0, failed: 0, skipped: 0 };
  let failedChildrenInFile = 0;
  for (const line of output.split('\n')) {
    const match = resultLine.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const ok = match[2] === 'ok';
    const description = match[3] ?? '';
    const skipped = /#\s*(SKIP|TODO)\b/i.test(description);
    if (depth === 1) {
      if (skipped) counts.skipped += 1;
      else if (ok) counts.passed += 1;
      else {
        counts.failed += 1;
        failedChildrenInFile += 1;
      }
    } else if (depth === 0) {
      if (!ok && failedChildrenInFile === 0) counts.failed += 1;
      failedChildrenInFile = 0;
    }
  }
  return counts;
}
