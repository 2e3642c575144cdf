// Reads vitest JSON reports and prints "N passed, M failed" as the last line. Exits non-zero
// when a test failed, a test file failed to load, or a test was skipped in a report where every
// test must run (one from a host with /dev/kvm, or from the test VM): a skipped KVM test must
// never pass for green.
//
//   node .ci/summarize.mjs [--skips-allowed <report>] <report>...
//
// A report after --skips-allowed comes from a host without /dev/kvm, where the KVM tests skip
// (loudly); its failures count, its passes are listed but not added (the other report ran the
// same tests again, with KVM).
import { existsSync, readFileSync } from 'node:fs';

const reports = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--skips-allowed') reports.push({ path: args[++i], skipsAllowed: true });
  else reports.push({ path: args[i], skipsAllowed: false });
}

let passed = 0;
let passedWithoutKvm = 0;
let failed = 0;
for (const { path, skipsAllowed } of reports) {
  if (!path || !existsSync(path)) {
    console.log(`the vitest report ${path} was not written: the tests did not run`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(path, 'utf8'));
  const brokenFiles = report.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0);
  for (const file of brokenFiles) console.log(`test file failed to run: ${file.name}\n${file.message}`);
  const skipped = report.numPendingTests + report.numTodoTests;
  if (skipped > 0 && !skipsAllowed) {
    const names = report.testResults
      .flatMap((file) => file.assertionResults)
      .filter((test) => test.status === 'pending' || test.status === 'skipped' || test.status === 'todo')
      .map((test) => `  - ${test.fullName}`);
    console.log(`${path}: ${skipped} test(s) skipped, but every test must run here:\n${names.join('\n')}`);
  }
  const reportFailed = report.numFailedTests + brokenFiles.length + (skipsAllowed ? 0 : skipped);
  if (skipsAllowed) {
    console.log(`${path} (without /dev/kvm): ${report.numPassedTests} passed, ${reportFailed} failed, ${skipped} skipped`);
    passedWithoutKvm += report.numPassedTests;
  } else {
    passed += report.numPassedTests;
  }
  failed += reportFailed;
}
if (reports.every((report) => report.skipsAllowed)) passed = passedWithoutKvm;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || reports.length === 0 ? 1 : 0);
