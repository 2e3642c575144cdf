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
//
// A test that failed and then passed on its retry (the test VM's run allows one: QEMU's
// emulated SVM there now and then corrupts a guest's state; README, "No /dev/kvm?") counts as
// passed, and is listed with its first failure, so that no retry goes unseen.
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
  const retried = report.testResults.flatMap((file) =>
    file.assertionResults.filter((test) => test.status === 'passed' && (test.failureMessages?.length ?? 0) > 0).map((test) => ({ file: file.name, test })),
  );
  for (const { file, test } of retried) {
    const firstLine = (test.failureMessages[0] ?? '').split('\n').slice(0, 4).join('\n    ');
    console.log(`RETRIED: ${test.fullName} (${file}) failed once, then passed on its retry. Its first failure:\n    ${firstLine}`);
  }
  if (retried.length > 0) console.log(`${path}: ${retried.length} test(s) passed only on a retry (listed above)`);
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
