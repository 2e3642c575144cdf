// tsvisor's native shim: only what TypeScript cannot do safely.
//
// A vCPU thread blocked in KVM_RUN leaves the guest only when the guest exits or
// when a signal reaches that very thread. tsvisor "kicks" a vCPU by sending it a
// real-time signal with tgkill(2). The handler's main purpose is to make the
// blocked ioctl return EINTR, which requires installing it without SA_RESTART.
// A vCPU thread also names its kvm_run.immediate_exit byte here: the handler
// sets it, so a signal that lands while the thread is outside KVM_RUN makes the
// next KVM_RUN return at once instead of being lost.
//
// Each vCPU thread has one host timer (timer_create with SIGEV_THREAD_ID), set
// to the earliest deadline of its guest timers: when it expires, the kick
// signal reaches that very thread, in or out of KVM_RUN. JavaScript can do none
// of this (a native signal handler, a thread's kernel tid, a thread-directed
// POSIX timer), so these functions live here.
//
// The main thread writes COM1's output without blocking; when the output (a
// pipe, a socket, a terminal) is full, it waits for it to become writable in
// the event loop, so that signals and input are still handled meanwhile. Node.js
// offers that wait only inside its own stream classes, which would take over
// the descriptor; WritableWatch is the wait alone, a uv_poll handle on the
// event loop.
#include <napi.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <ctime>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

// SIGRTMIN is a function call in glibc (it skips the signals reserved by
// NPTL), so the kick signal is computed at run time.
int KickSignal() { return SIGRTMIN; }

// The kvm_run.immediate_exit byte of the vCPU this thread runs, or null. It is
// set by the thread itself before its first KVM_RUN; initial-exec TLS needs no
// allocation on access, so the signal handler may read it.
__attribute__((tls_model("initial-exec"))) thread_local volatile unsigned char* immediate_exit = nullptr;
// This thread's deadline timer, created on first use.
thread_local timer_t deadline_timer;
thread_local bool has_deadline_timer = false;

void OnKick(int) {
  if (immediate_exit != nullptr) *immediate_exit = 1;
}

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

bool NumberArgument(const Napi::CallbackInfo& info, const char* usage) {
  if (info.Length() == 1 && info[0].IsNumber()) return true;
  Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
  return false;
}

// Names the immediate_exit byte (its host address) that the kick handler sets
// on this thread; 0 forgets it. A thread calls this before it runs its vCPU.
Napi::Value SetImmediateExitByte(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsBigInt()) {
    Napi::TypeError::New(env, "setImmediateExitByte(address: bigint)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool lossless = false;
  uint64_t address = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
  immediate_exit = reinterpret_cast<volatile unsigned char*>(address);
  return env.Undefined();
}

// Arms this thread's deadline timer to send it the kick signal at the given
// CLOCK_MONOTONIC time in nanoseconds (a time already past fires at once), or
// disarms it for 0. Creates the timer on first use.
Napi::Value ArmDeadlineTimer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!NumberArgument(info, "armDeadlineTimer(monotonicNanos: number)")) return env.Undefined();
  if (!has_deadline_timer) {
    struct sigevent event;
    std::memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = KickSignal();
    event._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
    if (timer_create(CLOCK_MONOTONIC, &event, &deadline_timer) != 0) return ErrnoError(env, "timer_create");
    has_deadline_timer = true;
  }
  double nanos = info[0].As<Napi::Number>().DoubleValue();
  // CLOCK_MONOTONIC counts signed 64-bit nanoseconds: a time at or beyond 2^63 ns (or NaN)
  // cannot be armed, and converting it to an integer would be undefined behaviour. The
  // caller treats such a deadline as "never" and passes 0.
  if (!(nanos >= 0 && nanos < 9223372036854775808.0)) {
    Napi::RangeError::New(env, "armDeadlineTimer: the time must be 0 or a CLOCK_MONOTONIC time below 2^63 ns").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  struct itimerspec when;
  std::memset(&when, 0, sizeof when);
  if (nanos > 0) {
    // A zero it_value disarms; a deadline at or before the epoch still has to fire.
    uint64_t whole = nanos < 1 ? 1 : static_cast<uint64_t>(nanos);
    when.it_value.tv_sec = static_cast<time_t>(whole / 1000000000u);
    when.it_value.tv_nsec = static_cast<long>(whole % 1000000000u);
  }
  if (timer_settime(deadline_timer, TIMER_ABSTIME, &when, nullptr) != 0) return ErrnoError(env, "timer_settime");
  return env.Undefined();
}

// Deletes this thread's deadline timer and forgets its immediate_exit byte: a
// vCPU thread calls this as it leaves, so no signal is aimed at a dead thread.
Napi::Value ReleaseThread(const Napi::CallbackInfo& info) {
  immediate_exit = nullptr;
  if (has_deadline_timer) {
    timer_delete(deadline_timer);
    has_deadline_timer = false;
  }
  return info.Env().Undefined();
}

// new WritableWatch(fd): arm(callback) calls `callback` once, from the event
// loop, when `fd` is writable (or has failed: the next write says how); close()
// stops the wait for good. While armed, the handle keeps the event loop alive.
class WritableWatch : public Napi::ObjectWrap<WritableWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WritableWatch",
                       {InstanceMethod<&WritableWatch::Arm>("arm"), InstanceMethod<&WritableWatch::Close>("close")});
  }

  explicit WritableWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WritableWatch>(info) {
    Napi::Env env = info.Env();
    if (!NumberArgument(info, "new WritableWatch(fd: number)")) return;
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      Napi::Error::New(env, "napi_get_uv_event_loop failed").ThrowAsJavaScriptException();
      return;
    }
    auto* poll = new uv_poll_t;
    int status = uv_poll_init(loop, poll, info[0].As<Napi::Number>().Int32Value());
    if (status != 0) {
      delete poll;
      Napi::Error::New(env, std::string("uv_poll_init failed: ") + uv_err_name(status)).ThrowAsJavaScriptException();
      return;
    }
    poll->data = this;
    poll_ = poll;
  }

  ~WritableWatch() override { Release(); }

 private:
  Napi::Value Arm(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsFunction()) {
      Napi::TypeError::New(env, "arm(callback: () => void)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (poll_ == nullptr) {
      Napi::Error::New(env, "arm() after close()").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    callback_ = Napi::Persistent(info[0].As<Napi::Function>());
    int status = uv_poll_start(poll_, UV_WRITABLE, OnPoll);
    if (status != 0) {
      callback_.Reset();
      Napi::Error::New(env, std::string("uv_poll_start failed: ") + uv_err_name(status)).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release();
    return info.Env().Undefined();
  }

  static void OnPoll(uv_poll_t* poll, int, int) {
    auto* self = static_cast<WritableWatch*>(poll->data);
    uv_poll_stop(poll);  // one call per arm()
    if (self == nullptr || self->callback_.IsEmpty()) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    // The callback's own reference goes first: it may arm again.
    Napi::Function callback = self->callback_.Value();
    self->callback_.Reset();
    try {
      callback.MakeCallback(env.Global(), {});
    } catch (const Napi::Error& error) {
      napi_fatal_exception(env, error.Value());  // as for any callback: 'uncaughtException'
    }
  }

  // Stops the wait and frees the handle once libuv is done with it.
  void Release() {
    callback_.Reset();
    if (poll_ == nullptr) return;
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); });
    poll_ = nullptr;
  }

  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference callback_;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("installKickHandler", Napi::Function::New(env, InstallKickHandler));
  exports.Set("currentThreadId", Napi::Function::New(env, CurrentThreadId));
  exports.Set("kickThread", Napi::Function::New(env, KickThread));
  exports.Set("setImmediateExitByte", Napi::Function::New(env, SetImmediateExitByte));
  exports.Set("armDeadlineTimer", Napi::Function::New(env, ArmDeadlineTimer));
  exports.Set("releaseThread", Napi::Function::New(env, ReleaseThread));
  exports.Set("WritableWatch", WritableWatch::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(tsvisor_shim, Init)
