// Reads vitest's JSON report and prints "N passed, M failed" as the last line. Exits
// non-zero when a test failed, a test file failed to load, or (where /dev/kvm exists)
// any test was skipped: a skipped KVM test must never pass for green.
import { existsSync, readFileSync } from 'node:fs';

const [reportPath] = process.argv.slice(2);
if (!reportPath || !existsSync(reportPath)) {
  console.log(`the vitest report ${reportPath} was not written: the tests did not run`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const report = JSON.parse(readFileSync(reportPath, 'utf8'));
const brokenFiles = report.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0);
for (const file of brokenFiles) console.log(`test file failed to run: ${file.name}\n${file.message}`);

const skipped = report.numPendingTests + report.numTodoTests;
const kvmPresent = existsSync('/dev/kvm');
if (skipped > 0) {
  const names = report.testResults
    .flatMap((file) => file.assertionResults)
    .filter((test) => test.status === 'pending' || test.status === 'skipped' || test.status === 'todo')
    .map((test) => `  - ${test.fullName}`);
  console.log(`${skipped} test(s) skipped${kvmPresent ? ', but /dev/kvm exists, so every test must run:' : ':'}\n${names.join('\n')}`);
}

const passed = report.numPassedTests;
const failed = report.numFailedTests + brokenFiles.length + (kvmPresent ? skipped : 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
