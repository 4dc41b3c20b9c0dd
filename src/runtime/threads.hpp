// How many threads to use: the CPUs this process may run on (affinity), capped by the
// cgroup CPU quota (containers), unless the user says otherwise.
#pragma once

namespace encore::runtime {

int available_cpus();
// Applies `requested` (0 = available_cpus()) to OpenMP/oneDNN and returns the count used.
int configure_threads(int requested);

}  // namespace encore::runtime
