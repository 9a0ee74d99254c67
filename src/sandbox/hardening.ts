/**
 * A program that checks, from inside the sandbox, that the container is locked down as
 * containerOptions() asks: non-root, no capabilities, no-new-privileges, no network interface
 * but loopback, read-only root, /tmp capped, and the cgroup and rlimit limits in force. It prints
 * "hardened" or the list of what is not; `ttsd sandbox doctor` runs it on every Docker host.
 */
import type { Task } from '../tasks/types.js';
import type { SandboxLimits } from './container.js';

const PROBE = `import json, os, socket
want = json.loads(input())
fails = []
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
if os.getuid() == 0 or os.getgid() == 0:
    fails.append("runs as root")
if int(status["CapEff"].strip(), 16) != 0:
    fails.append("capabilities not dropped")
if status.get("NoNewPrivs", "").strip() != "1":
    fails.append("no-new-privileges off")
ifaces = sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").read().splitlines()[2:])
if ifaces != ["lo"]:
    fails.append("network interfaces " + ",".join(ifaces))
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1).close()
    fails.append("network reachable")
except OSError:
    pass
if not os.statvfs("/").f_flag & os.ST_RDONLY:
    fails.append("root filesystem writable")
st = os.statvfs("/tmp")
if st.f_blocks * st.f_frsize != want["tmpfs"]:
    fails.append("/tmp size %d" % (st.f_blocks * st.f_frsize))
def first(*paths):
    for p in paths:
        try:
            return open(p).read().strip()
        except OSError:
            pass
    return None
mem = first("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
if mem != str(want["memory"]):
    fails.append("memory limit %s" % mem)
pids = first("/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max")
if pids != str(want["pids"]):
    fails.append("pids limit %s" % pids)
cpu = first("/sys/fs/cgroup/cpu.max")
if cpu is None:
    cpu = "%s %s" % (first("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), first("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))
quota, period = cpu.split()
if quota == "max" or quota == "-1" or abs(int(quota) / int(period) - want["cpus"]) > 1e-6:
    fails.append("cpu limit %s" % cpu)
limits = {l[:26].strip(): l[26:].split()[:2] for l in open("/proc/self/limits").read().splitlines()[1:]}
if limits.get("Max open files") != [str(want["nofile"])] * 2:
    fails.append("open files %s" % limits.get("Max open files"))
if limits.get("Max file size") != [str(want["fsize"])] * 2:
    fails.append("file size %s" % limits.get("Max file size"))
print("hardened" if not fails else "not hardened: " + "; ".join(fails))
`;

/** The probe as a task + program: accepted iff every check holds. */
export function hardeningProbe(limits: SandboxLimits): { task: Task; code: string } {
  const mib = 1024 * 1024;
  const want = {
    memory: limits.memoryMb * mib,
    pids: limits.pids,
    cpus: limits.cpus,
    tmpfs: limits.tmpfsMb * mib,
    nofile: limits.openFiles,
    fsize: limits.fileSizeMb * mib,
  };
  return {
    task: {
      id: 'hardening-probe',
      title: 'hardening probe',
      content: '',
      platform: 'ttsd',
      contestId: '',
      contestDate: '',
      difficulty: 'easy',
      starterCode: '',
      publicTests: [{ input: `${JSON.stringify(want)}\n`, output: 'hardened\n', testtype: 'stdin' }],
      privateTests: [],
      metadata: {},
    },
    code: PROBE,
  };
}
