#!/usr/bin/env python3
"""Checks packaging/k8s/vproc-daemonset.yaml and turns it into podman flags.

usage: k8s_manifest.py DAEMONSET_YAML CONTAINERFILE IMAGE_VERSION PODMAN_ARGS_OUT

Prints one "PASS what" or "FAIL what (why)" line per check (tests/lib/common.sh
vt_report reads them). Without a cluster or kubectl here, the checks are a
small schema of the fields the manifest uses (so that a misspelt key fails
rather than being ignored by the API server's pruning) plus the settings the
agent depends on. PODMAN_ARGS_OUT gets one podman argument per line that runs
the image as the DaemonSet does: --privileged, --pid=host, every volume mount
(Bidirectional -> rshared, HostToContainer -> rslave, readOnly -> ro) and every
literal env value.
"""
import re
import sys

import yaml

manifest_path, containerfile_path, version, args_out = sys.argv[1:5]
failed = False


def check(what, ok, why=""):
    global failed
    if ok:
        print(f"PASS manifest: {what}")
    else:
        failed = True
        print(f"FAIL manifest: {what}" + (f" ({why})" if why else ""))


def unknown_keys(obj, allowed):
    return sorted(set(obj or {}) - set(allowed))


try:
    docs = [d for d in yaml.safe_load_all(open(manifest_path)) if d]
except yaml.YAMLError as e:
    check("parses as YAML", False, str(e).replace("\n", " "))
    sys.exit(0)
check("parses as YAML", True)

kinds = {d.get("kind"): d for d in docs}
check("holds a Namespace, a ServiceAccount and a DaemonSet",
      set(kinds) == {"Namespace", "ServiceAccount", "DaemonSet"}, f"kinds {sorted(kinds)}")
ds = kinds.get("DaemonSet") or {}
ns = (kinds.get("Namespace") or {}).get("metadata", {}).get("name")
check("DaemonSet is apps/v1", ds.get("apiVersion") == "apps/v1", ds.get("apiVersion"))
check("everything but the Namespace lives in it",
      all(d.get("metadata", {}).get("namespace") == ns for d in docs if d.get("kind") != "Namespace"))

spec = ds.get("spec", {})
tmpl = spec.get("template", {})
pod = tmpl.get("spec", {})
sel = spec.get("selector", {}).get("matchLabels", {})
labels = tmpl.get("metadata", {}).get("labels", {})
check("selector matches the pod template's labels",
      bool(sel) and all(labels.get(k) == v for k, v in sel.items()))

strategy = spec.get("updateStrategy", {})
ru = strategy.get("rollingUpdate", {})
check("rolling updates start the new pod before stopping the old (maxSurge 1, maxUnavailable 0)",
      strategy.get("type") == "RollingUpdate" and ru.get("maxSurge") == 1
      and ru.get("maxUnavailable") == 0, str(strategy))
check("DaemonSet spec keys are known",
      not unknown_keys(spec, {"selector", "template", "updateStrategy", "minReadySeconds",
                              "revisionHistoryLimit"}), unknown_keys(spec, {}))
pod_keys = {"serviceAccountName", "automountServiceAccountToken", "hostPID", "hostNetwork",
            "hostIPC", "priorityClassName", "tolerations", "nodeSelector", "affinity",
            "terminationGracePeriodSeconds", "containers", "initContainers", "volumes",
            "securityContext", "dnsPolicy", "runtimeClassName"}
check("pod spec keys are known", not unknown_keys(pod, pod_keys), unknown_keys(pod, pod_keys))
sa = (kinds.get("ServiceAccount") or {}).get("metadata", {}).get("name")
check("the pod runs as the ServiceAccount", pod.get("serviceAccountName") == sa)
check("hostPID: true (vprocd looks readers' pids up in /proc)", pod.get("hostPID") is True)

containers = pod.get("containers") or []
check("one container", len(containers) == 1, f"{len(containers)} containers")
c = containers[0] if containers else {}
c_keys = {"name", "image", "imagePullPolicy", "command", "args", "env", "securityContext",
          "resources", "readinessProbe", "livenessProbe", "startupProbe", "lifecycle",
          "volumeMounts", "ports"}
check("container keys are known", not unknown_keys(c, c_keys), unknown_keys(c, c_keys))
check("securityContext.privileged: true",
      (c.get("securityContext") or {}).get("privileged") is True)
check(f"image is localhost/vproc-node-agent:{version} (build-image.sh's default tag)",
      c.get("image") == f"localhost/vproc-node-agent:{version}", c.get("image"))

req = (c.get("resources") or {}).get("requests") or {}
check("resource requests for cpu and memory", "cpu" in req and "memory" in req, str(req))
lim = (c.get("resources") or {}).get("limits") or {}
check("no CPU limit (a throttled FUSE server stalls every reader)", "cpu" not in lim)

# The image's entrypoint and where its own files live.
entry = None
for line in open(containerfile_path):
    m = re.match(r'\s*ENTRYPOINT\s+\[\s*"([^"]+)"', line)
    if m:
        entry = m.group(1)
check("the Containerfile has an exec-form ENTRYPOINT", entry is not None)
image_dir = entry.rsplit("/", 1)[0] if entry else "/opt/vproc/bin"


def exec_cmd(probe):
    return ((probe or {}).get("exec") or {}).get("command") or []


rp = c.get("readinessProbe") or {}
check("readinessProbe runs the agent's probe",
      exec_cmd(rp)[:2] == [entry, "probe"], str(exec_cmd(rp)))
lp = c.get("livenessProbe") or {}
check("livenessProbe (if any) runs the agent's probe",
      not lp or exec_cmd(lp)[:2] == [entry, "probe"], str(exec_cmd(lp)))
pre = ((c.get("lifecycle") or {}).get("preStop") or {})
check("preStop removes the hooks first", exec_cmd(pre) == [entry, "uninstall-hooks"],
      str(exec_cmd(pre)))

volumes = {v.get("name"): v for v in pod.get("volumes") or []}
mounts = c.get("volumeMounts") or []
vm_keys = {"name", "mountPath", "mountPropagation", "readOnly", "subPath"}
check("volumeMount keys are known",
      all(not unknown_keys(m, vm_keys) for m in mounts),
      str([unknown_keys(m, vm_keys) for m in mounts]))
check("every volumeMount names a volume", all(m.get("name") in volumes for m in mounts),
      str([m.get("name") for m in mounts if m.get("name") not in volumes]))
check("mountPropagation values are valid",
      all(m.get("mountPropagation", "None") in ("None", "HostToContainer", "Bidirectional")
          for m in mounts))
host_types = {"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket",
              "CharDevice", "BlockDevice"}
check("every volume is a hostPath with a valid type",
      all("hostPath" in v and v["hostPath"].get("type", "") in host_types
          for v in volumes.values()))

by_path = {m.get("mountPath"): m for m in mounts}
env = {e.get("name"): e for e in c.get("env") or []}


def env_value(name, default):
    e = env.get(name)
    return e.get("value", default) if e else default




def host_of(m):
    return volumes.get(m.get("name"), {}).get("hostPath", {}).get("path")


def covers(mount_path, path):
    mp = mount_path.rstrip("/") or "/"
    return path == mp or path.startswith(mp + "/") or mp == "/"


# vprocd's mountpoint is /var/lib/vproc on both sides; the volume must be its
# parent, shared both ways: a volume of /var/lib/vproc itself would bind
# whatever FUSE mount sits there when the pod starts (a crashed agent's, the old
# pod's during a rolling update), and mounts on top of that stay in the pod.
lib = by_path.get("/var/lib")
check("host /var/lib mounted at /var/lib with mountPropagation: Bidirectional, read-only",
      lib is not None and host_of(lib) == "/var/lib"
      and lib.get("mountPropagation") == "Bidirectional" and lib.get("readOnly") is True)
check("no volume on /var/lib/vproc itself (the runtime would bind a FUSE mount found there)",
      "/var/lib/vproc" not in by_path)
check("mountpoint is the default /var/lib/vproc",
      env_value("VPROC_MOUNTPOINT", "/var/lib/vproc") == "/var/lib/vproc")
run = by_path.get("/run/vproc")
check("host /run/vproc mounted at /run/vproc (HostToContainer or Bidirectional)",
      run is not None and host_of(run) == "/run/vproc"
      and run.get("mountPropagation") in ("HostToContainer", "Bidirectional"))
fuse = by_path.get("/dev/fuse")
check("host /dev/fuse mounted (CharDevice)",
      fuse is not None and host_of(fuse) == "/dev/fuse"
      and volumes[fuse["name"]]["hostPath"].get("type") == "CharDevice")
cg = by_path.get("/host/sys/fs/cgroup")
check("host /sys/fs/cgroup at /host/sys/fs/cgroup, read-only",
      cg is not None and host_of(cg) == "/sys/fs/cgroup" and cg.get("readOnly") is True)

# A crash loop: a host directory mounted over the image's binaries hides them.
hiding = [m.get("mountPath") for m in mounts if covers(m.get("mountPath", ""), image_dir)]
check(f"no volume is mounted on or above the image's {image_dir}", not hiding, str(hiding))

# Every host path the agent writes to must be mounted at /host<path>.
hook = env_value("VPROC_HOOK_PATH", "/usr/libexec/vproc/vproc-hook")
targets = [hook.rsplit("/", 1)[0]]
targets += env_value("VPROC_HOOKS_DIRS",
                     "/usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d").split()
cdi = env_value("VPROC_CDI_DIR", "/var/run/cdi")
if cdi:
    targets.append(cdi)
for t in targets:
    m = by_path.get("/host" + t)
    check(f"host {t} is mounted at /host{t}", m is not None and host_of(m) == t
          and not m.get("readOnly"), "missing, another host path, or read-only")
check("VPROC_AGENT_ID comes from the pod's uid",
      (env.get("VPROC_AGENT_ID") or {}).get("valueFrom", {}).get("fieldRef", {})
      .get("fieldPath") == "metadata.uid")

# podman flags that run the image the way this DaemonSet does.
prop = {"Bidirectional": "rshared", "HostToContainer": "rslave"}
args = []
if (c.get("securityContext") or {}).get("privileged"):
    args.append("--privileged")
if pod.get("hostPID"):
    args.append("--pid=host")
for m in mounts:
    opts = []
    if m.get("readOnly"):
        opts.append("ro")
    if m.get("mountPropagation") in prop:
        opts.append(prop[m["mountPropagation"]])
    args.append("-v")
    args.append(f"{host_of(m)}:{m['mountPath']}" + (":" + ",".join(opts) if opts else ""))
for name, e in env.items():
    if "value" in e:
        args.append("-e")
        args.append(f"{name}={e['value']}")
with open(args_out, "w") as f:
    f.write("\n".join(args) + "\n")
