// tsvisor's native shim: only what TypeScript cannot do safely.
//
// A vCPU thread blocked in KVM_RUN leaves the guest only when the guest exits or
// when a signal reaches that very thread. tsvisor "kicks" a vCPU by sending it a
// real-time signal with tgkill(2). The handler does nothing: its only purpose is
// to make the blocked ioctl return EINTR, which requires installing it without
// SA_RESTART. JavaScript cannot install a native signal handler, nor name a
// thread by its kernel tid, so these three functions live here.
#include <napi.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

// SIGRTMIN is a function call in glibc (it skips the signals reserved by
// NPTL), so the kick signal is computed at run time.
int KickSignal() { return SIGRTMIN; }

void OnKick(int) {}

Napi::Value ErrnoError(Napi::Env env, const char* call) {
  int err = errno;
  std::string message = std::string(call) + " failed: " + strerrorname_np(err) + " (" + std::strerror(err) + ")";
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

// Installs the no-op kick handler (idempotent) and returns the signal number.
Napi::Value InstallKickHandler(const Napi::CallbackInfo& info) {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = OnKick;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked KVM_RUN must return EINTR
  if (sigaction(KickSignal(), &action, nullptr) != 0) return ErrnoError(info.Env(), "sigaction");
  return Napi::Number::New(info.Env(), KickSignal());
}

// The kernel thread id of the calling thread (a worker's own tid, for tgkill
// and sched_setaffinity).
Napi::Value CurrentThreadId(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(syscall(SYS_gettid)));
}

// Sends the kick signal to one thread of this process. Returns false when the thread has
// already ended (ESRCH): a vCPU that left its loop needs no kick.
Napi::Value KickThread(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(env, "kickThread(tid: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  pid_t tid = info[0].As<Napi::Number>().Int32Value();
  if (syscall(SYS_tgkill, getpid(), tid, KickSignal()) == 0) return Napi::Boolean::New(env, true);
  if (errno == ESRCH) return Napi::Boolean::New(env, false);
  return ErrnoError(env, "tgkill");
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("installKickHandler", Napi::Function::New(env, InstallKickHandler));
  exports.Set("currentThreadId", Napi::Function::New(env, CurrentThreadId));
  exports.Set("kickThread", Napi::Function::New(env, KickThread));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsvisor_shim, Init)
