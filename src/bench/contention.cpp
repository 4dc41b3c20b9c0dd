#include "bench/contention.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "encore/error.hpp"

namespace encore::bench {

Contention::Contention(int processes) {
  for (int i = 0; i < processes; ++i) {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid < 0) {
      const std::string why = std::strerror(errno);
      stop();
      throw Error("bench --contend: cannot start a competing process: " + why);
    }
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);  // the parent is already gone
      volatile unsigned long spin = 0;
      for (;;) spin = spin + 1;
    }
    children_.push_back(pid);
  }
  if (processes > 0) usleep(50'000);  // let the spinners reach the run queue
}

Contention::~Contention() {
  stop();
}

void Contention::stop() {
  for (const pid_t pid : children_) kill(pid, SIGKILL);
  for (const pid_t pid : children_) waitpid(pid, nullptr, 0);
  children_.clear();
}

}  // namespace encore::bench
