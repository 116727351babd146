//! Golden tests against what dockerd 20.10 (API 1.41, Debian 12's
//! `docker.io`) answered on this kind of machine. The JSON below was
//! recorded from a local dockerd with curl (containers made with the docker
//! CLI: a created, a running and an exited busybox; images made with
//! `docker import` and a classic `docker build`) and written in by hand.
//!
//! Each answer is read with the models (Go's rules) and written back; what
//! comes out must hold every field dockerd wrote with the same value (`null`
//! stays `null`, `[]` stays `[]`, `{}` stays `{}`), and may add only the
//! fields API 1.47 has and 1.41 had not, listed per case. The output is
//! also read by bollard-stubs (moby's swagger, as bollard's client reads
//! it).

use std::collections::BTreeSet;

use models::{container, exec, image, network, system, volume};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Paths where `ours` differs from `want` (`-` missing or different) and
/// where `ours` has more (`+`).
fn diff(ours: &Value, want: &Value, path: &str, out: &mut BTreeSet<String>) {
    match (ours, want) {
        (Value::Object(o), Value::Object(w)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                match o.get(k) {
                    Some(ov) => diff(ov, wv, &p, out),
                    None => {
                        out.insert(format!("-{p}"));
                    }
                }
            }
            for k in o.keys().filter(|k| !w.contains_key(*k)) {
                out.insert(format!("+{path}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(w)) if o.len() == w.len() => {
            for (i, (ov, wv)) in o.iter().zip(w).enumerate() {
                diff(ov, wv, &format!("{path}[{i}]"), out);
            }
        }
        (o, w) if o == w => {}
        _ => {
            out.insert(format!("-{path}"));
        }
    }
}

/// Reads `recorded` as `T`, writes it back, and returns the differences.
fn round_trip<T: DeserializeOwned + Serialize>(recorded: &str) -> (T, BTreeSet<String>) {
    let typed: T = models::de::from_slice(recorded.as_bytes()).expect("decodes");
    let ours = serde_json::to_value(&typed).unwrap();
    let want: Value = serde_json::from_str(recorded).unwrap();
    let mut out = BTreeSet::new();
    diff(&ours, &want, "", &mut out);
    (typed, out)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// `inspect_created`
const INSPECT_CREATED: &str = r##"{"Id":"01becc3acfd0291ecaf431f665002961bd22c57b0328d8398888d016d1419817","Created":"2026-12-07T16:42:55.422672304Z","Path":"true","Args":[],"State":{"Status":"created","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":0,"Error":"","StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"},"Image":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","ResolvConfPath":"","HostnamePath":"","HostsPath":"","LogPath":"","Name":"/made","RestartCount":0,"Driver":"overlay2","Platform":"linux","MountLabel":"","ProcessLabel":"","AppArmorProfile":"","ExecIDs":null,"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"json-file","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"host","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"private","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":67108864,"Runtime":"runc","ConsoleSize":[0,0],"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":false,"PidsLimit":null,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"],"ReadonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]},"GraphDriver":{"Data":{"LowerDir":"/tmp/models-docker/root/overlay2/6d90c0e9304437e243df5b153b619884cecefc6df6504da29f57493cf7ff4b49-init/diff:/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/diff","MergedDir":"/tmp/models-docker/root/overlay2/6d90c0e9304437e243df5b153b619884cecefc6df6504da29f57493cf7ff4b49/merged","UpperDir":"/tmp/models-docker/root/overlay2/6d90c0e9304437e243df5b153b619884cecefc6df6504da29f57493cf7ff4b49/diff","WorkDir":"/tmp/models-docker/root/overlay2/6d90c0e9304437e243df5b153b619884cecefc6df6504da29f57493cf7ff4b49/work"},"Name":"overlay2"},"Mounts":[],"Config":{"Hostname":"01becc3acfd0","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"NetworkSettings":{"Bridge":"","SandboxID":"","HairpinMode":false,"LinkLocalIPv6Address":"","LinkLocalIPv6PrefixLen":0,"Ports":{},"SandboxKey":"","SecondaryIPAddresses":null,"SecondaryIPv6Addresses":null,"EndpointID":"","Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","MacAddress":"","Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","DriverOpts":null}}}}"##;

/// `inspect_running`
const INSPECT_RUNNING: &str = r##"{"Id":"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e","Created":"2026-12-07T16:42:55.719607407Z","Path":"sleep","Args":["600"],"State":{"Status":"running","Running":true,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":30547,"ExitCode":0,"Error":"","StartedAt":"2026-12-07T16:42:56.093346861Z","FinishedAt":"0001-01-01T00:00:00Z"},"Image":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","ResolvConfPath":"/tmp/models-docker/root/containers/e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e/resolv.conf","HostnamePath":"/tmp/models-docker/root/containers/e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e/hostname","HostsPath":"/tmp/models-docker/root/containers/e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e/hosts","LogPath":"/tmp/models-docker/root/containers/e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e/e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e-json.log","Name":"/runs","RestartCount":0,"Driver":"overlay2","Platform":"linux","MountLabel":"","ProcessLabel":"","AppArmorProfile":"","ExecIDs":null,"HostConfig":{"Binds":["vol1:/data"],"ContainerIDFile":"","LogConfig":{"Type":"json-file","Config":{}},"NetworkMode":"default","PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"host","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"private","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":67108864,"Runtime":"runc","ConsoleSize":[0,0],"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":false,"PidsLimit":null,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"],"ReadonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]},"GraphDriver":{"Data":{"LowerDir":"/tmp/models-docker/root/overlay2/6b145a606c7abaf8fe81ef061c2973d4b8874787530ce4e4d408e1226348e695-init/diff:/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/diff","MergedDir":"/tmp/models-docker/root/overlay2/6b145a606c7abaf8fe81ef061c2973d4b8874787530ce4e4d408e1226348e695/merged","UpperDir":"/tmp/models-docker/root/overlay2/6b145a606c7abaf8fe81ef061c2973d4b8874787530ce4e4d408e1226348e695/diff","WorkDir":"/tmp/models-docker/root/overlay2/6b145a606c7abaf8fe81ef061c2973d4b8874787530ce4e4d408e1226348e695/work"},"Name":"overlay2"},"Mounts":[{"Type":"volume","Name":"vol1","Source":"/tmp/models-docker/root/volumes/vol1/_data","Destination":"/data","Driver":"local","Mode":"z","RW":true,"Propagation":""}],"Config":{"Hostname":"e52d602e5601","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["sleep","600"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{"k":"v"}},"NetworkSettings":{"Bridge":"","SandboxID":"69fd6a7db180e3175d8f8a62485623bf463002c3891dd81792a499b5082653db","HairpinMode":false,"LinkLocalIPv6Address":"","LinkLocalIPv6PrefixLen":0,"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}]},"SandboxKey":"/tmp/models-docker/exec/netns/69fd6a7db180","SecondaryIPAddresses":null,"SecondaryIPv6Addresses":null,"EndpointID":"a7a5ea42bcb61ad958ff82f42245f219c7c9f06ceeaed01dc830fa1be31d8f0e","Gateway":"172.17.0.1","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","MacAddress":"02:42:ac:11:00:02","Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","EndpointID":"a7a5ea42bcb61ad958ff82f42245f219c7c9f06ceeaed01dc830fa1be31d8f0e","Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:11:00:02","DriverOpts":null}}}}"##;

/// `inspect_exited`
const INSPECT_EXITED: &str = r##"{"Id":"ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980","Created":"2026-12-07T16:42:56.128840106Z","Path":"sh","Args":["-c","exit 3"],"State":{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":3,"Error":"","StartedAt":"2026-12-07T16:42:56.525154649Z","FinishedAt":"2026-12-07T16:42:56.527534215Z"},"Image":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","ResolvConfPath":"/tmp/models-docker/root/containers/ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980/resolv.conf","HostnamePath":"/tmp/models-docker/root/containers/ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980/hostname","HostsPath":"/tmp/models-docker/root/containers/ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980/hosts","LogPath":"/tmp/models-docker/root/containers/ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980/ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980-json.log","Name":"/exited","RestartCount":0,"Driver":"overlay2","Platform":"linux","MountLabel":"","ProcessLabel":"","AppArmorProfile":"","ExecIDs":null,"HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"json-file","Config":{}},"NetworkMode":"default","PortBindings":{},"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"CapAdd":null,"CapDrop":null,"CgroupnsMode":"host","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"private","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":67108864,"Runtime":"runc","ConsoleSize":[0,0],"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":null,"BlkioDeviceWriteBps":null,"BlkioDeviceReadIOps":null,"BlkioDeviceWriteIOps":null,"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"","CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"KernelMemory":0,"KernelMemoryTCP":0,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":null,"OomKillDisable":false,"PidsLimit":null,"Ulimits":null,"CpuCount":0,"CpuPercent":0,"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":["/proc/asound","/proc/acpi","/proc/kcore","/proc/keys","/proc/latency_stats","/proc/timer_list","/proc/timer_stats","/proc/sched_debug","/proc/scsi","/sys/firmware"],"ReadonlyPaths":["/proc/bus","/proc/fs","/proc/irq","/proc/sys","/proc/sysrq-trigger"]},"GraphDriver":{"Data":{"LowerDir":"/tmp/models-docker/root/overlay2/5cd9a212aacf44db252a6a0e5306fb37c050da5859f145fbf9038b5ef0162fef-init/diff:/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/diff","MergedDir":"/tmp/models-docker/root/overlay2/5cd9a212aacf44db252a6a0e5306fb37c050da5859f145fbf9038b5ef0162fef/merged","UpperDir":"/tmp/models-docker/root/overlay2/5cd9a212aacf44db252a6a0e5306fb37c050da5859f145fbf9038b5ef0162fef/diff","WorkDir":"/tmp/models-docker/root/overlay2/5cd9a212aacf44db252a6a0e5306fb37c050da5859f145fbf9038b5ef0162fef/work"},"Name":"overlay2"},"Mounts":[],"Config":{"Hostname":"ac6c2762d994","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":["sh","-c","exit 3"],"Image":"busybox","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{}},"NetworkSettings":{"Bridge":"","SandboxID":"e611ade3bf9cedf383e601ac0f08a9305d3c0d43295236808e637d7e3c56beee","HairpinMode":false,"LinkLocalIPv6Address":"","LinkLocalIPv6PrefixLen":0,"Ports":{},"SandboxKey":"/tmp/models-docker/exec/netns/e611ade3bf9c","SecondaryIPAddresses":null,"SecondaryIPv6Addresses":null,"EndpointID":"","Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","MacAddress":"","Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","DriverOpts":null}}}}"##;

/// `ps`
const PS: &str = r##"[{"Id":"ac6c2762d994a1de56901339e7975f7ffa858d4689c9dbe33ba99e902aa63980","Names":["/exited"],"Image":"busybox","ImageID":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","Command":"sh -c 'exit 3'","Created":1796661776,"Ports":[],"Labels":{},"State":"exited","Status":"Exited (3) Less than a second ago","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","DriverOpts":null}}},"Mounts":[]},{"Id":"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e","Names":["/runs"],"Image":"busybox","ImageID":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","Command":"sleep 600","Created":1796661775,"Ports":[{"IP":"0.0.0.0","PrivatePort":80,"PublicPort":8080,"Type":"tcp"},{"IP":"::","PrivatePort":80,"PublicPort":8080,"Type":"tcp"}],"Labels":{"k":"v"},"State":"running","Status":"Up Less than a second","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","EndpointID":"a7a5ea42bcb61ad958ff82f42245f219c7c9f06ceeaed01dc830fa1be31d8f0e","Gateway":"172.17.0.1","IPAddress":"172.17.0.2","IPPrefixLen":16,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"02:42:ac:11:00:02","DriverOpts":null}}},"Mounts":[{"Type":"volume","Name":"vol1","Source":"/tmp/models-docker/root/volumes/vol1/_data","Destination":"/data","Driver":"local","Mode":"z","RW":true,"Propagation":""}]},{"Id":"01becc3acfd0291ecaf431f665002961bd22c57b0328d8398888d016d1419817","Names":["/made"],"Image":"busybox","ImageID":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","Command":"true","Created":1796661775,"Ports":[],"Labels":{},"State":"created","Status":"Created","HostConfig":{"NetworkMode":"default"},"NetworkSettings":{"Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"","GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"MacAddress":"","DriverOpts":null}}},"Mounts":[]}]"##;

/// `image_imported`
const IMAGE_IMPORTED: &str = r##"{"Id":"sha256:73834a70ee9d40aa457089e53132ba290eaf33aa9faee61eb8919bd3f73c7a3c","RepoTags":["busybox:imported"],"RepoDigests":[],"Parent":"","Comment":"Imported from -","Created":"2026-12-07T16:42:39.089069621Z","Container":"","ContainerConfig":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"DockerVersion":"20.10.24+dfsg1","Author":"","Config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"Architecture":"amd64","Os":"linux","Size":1984246,"VirtualSize":1984246,"GraphDriver":{"Data":{"MergedDir":"/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/merged","UpperDir":"/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/diff","WorkDir":"/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/work"},"Name":"overlay2"},"RootFS":{"Type":"layers","Layers":["sha256:e858e45a47d345b59234762ede683cdbb243ba4e91a973e7d80f2ce56901c09c"]},"Metadata":{"LastTagTime":"2026-12-07T16:42:39.195868605Z"}}"##;

/// `image_built`
const IMAGE_BUILT: &str = r##"{"Id":"sha256:eb013c7b3028bed2b8d8e0d4110a0f9761cb4a3ce0bc28275256ed1faaaf20f4","RepoTags":["built:classic"],"RepoDigests":[],"Parent":"sha256:47eb881ad9da1dfd706f59889e31151417eeb104f8d0e2e3657d1d4a6ef40aee","Comment":"","Created":"2026-12-07T16:42:44.023780584Z","Container":"1c86d039b31cb0c80f37f1c40ea9fa73be65099b6b25dcbdb161650c9e8b2189","ContainerConfig":{"Hostname":"1c86d039b31c","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"8080/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"],"Cmd":["/bin/sh","-c","#(nop) ","CMD [\"cat\" \"/greeting.txt\"]"],"Image":"sha256:47eb881ad9da1dfd706f59889e31151417eeb104f8d0e2e3657d1d4a6ef40aee","Volumes":{"/data":{}},"WorkingDir":"/srv","Entrypoint":null,"OnBuild":null,"Labels":{"org.example.kind":"test"}},"DockerVersion":"20.10.24+dfsg1","Author":"","Config":{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"8080/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","GREETING=hello"],"Cmd":["cat","/greeting.txt"],"Image":"sha256:47eb881ad9da1dfd706f59889e31151417eeb104f8d0e2e3657d1d4a6ef40aee","Volumes":{"/data":{}},"WorkingDir":"/srv","Entrypoint":null,"OnBuild":null,"Labels":{"org.example.kind":"test"}},"Architecture":"amd64","Os":"linux","Size":1984252,"VirtualSize":1984252,"GraphDriver":{"Data":{"LowerDir":"/tmp/models-docker/root/overlay2/d53c12d36b2974a35a8291c4d88ea110fdc2efe0b3a6bc00fe4a1081109777cc/diff:/tmp/models-docker/root/overlay2/0914a722eda5d2b7a732e57122e8013e316a0bf2e7e4f77eb7b00cb010e9f7a2/diff","MergedDir":"/tmp/models-docker/root/overlay2/0a90686d1eb994872e27ca2c5293cf9ec36c21b8b2004a94e65d55d581616c23/merged","UpperDir":"/tmp/models-docker/root/overlay2/0a90686d1eb994872e27ca2c5293cf9ec36c21b8b2004a94e65d55d581616c23/diff","WorkDir":"/tmp/models-docker/root/overlay2/0a90686d1eb994872e27ca2c5293cf9ec36c21b8b2004a94e65d55d581616c23/work"},"Name":"overlay2"},"RootFS":{"Type":"layers","Layers":["sha256:e858e45a47d345b59234762ede683cdbb243ba4e91a973e7d80f2ce56901c09c","sha256:bb656490c5387fb9327317fc23808dac60bcd9b8de855eea79dbb7ec17d61735","sha256:0322d010266e63466341141014088640c5fe6291200be6728eb59f6be81c4e27"]},"Metadata":{"LastTagTime":"2026-12-07T16:42:44.107856506Z"}}"##;

/// `images`
const IMAGES: &str = r##"[{"Containers":-1,"Created":1796661766,"Id":"sha256:bca24320e2eae60178fda3ecc49dfb7e4bae3deb4be87d46cad1480337e79a2c","Labels":null,"ParentId":"sha256:f61b71575ceb70847d37dc173eb760e622317bbe80bd43250e63581f22d6cab2","RepoDigests":null,"RepoTags":["hello-world:latest"],"SharedSize":-1,"Size":4368,"VirtualSize":4368},{"Containers":-1,"Created":1796661764,"Id":"sha256:eb013c7b3028bed2b8d8e0d4110a0f9761cb4a3ce0bc28275256ed1faaaf20f4","Labels":{"org.example.kind":"test"},"ParentId":"sha256:47eb881ad9da1dfd706f59889e31151417eeb104f8d0e2e3657d1d4a6ef40aee","RepoDigests":null,"RepoTags":["built:classic"],"SharedSize":-1,"Size":1984252,"VirtualSize":1984252},{"Containers":-1,"Created":1796661759,"Id":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["busybox:latest"],"SharedSize":-1,"Size":1984246,"VirtualSize":1984246},{"Containers":-1,"Created":1796661759,"Id":"sha256:73834a70ee9d40aa457089e53132ba290eaf33aa9faee61eb8919bd3f73c7a3c","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["busybox:imported"],"SharedSize":-1,"Size":1984246,"VirtualSize":1984246}]"##;

/// `history`
const HISTORY: &str = r##"[{"Comment":"","Created":1796661764,"CreatedBy":"/bin/sh -c #(nop)  CMD [\"cat\" \"/greeting.txt\"]","Id":"sha256:eb013c7b3028bed2b8d8e0d4110a0f9761cb4a3ce0bc28275256ed1faaaf20f4","Size":0,"Tags":["built:classic"]},{"Comment":"","Created":1796661763,"CreatedBy":"/bin/sh -c #(nop)  VOLUME [/data]","Id":"sha256:47eb881ad9da1dfd706f59889e31151417eeb104f8d0e2e3657d1d4a6ef40aee","Size":0,"Tags":null},{"Comment":"","Created":1796661762,"CreatedBy":"/bin/sh -c #(nop)  EXPOSE 8080","Id":"sha256:5785dbe0d679af7d3818b3c50b3094e2acecb4e3ad4745e65a28e372b30898d5","Size":0,"Tags":null},{"Comment":"","Created":1796661762,"CreatedBy":"/bin/sh -c #(nop) WORKDIR /srv","Id":"sha256:ba320c9e7e5c8fb8704bb40b1c6a7f76bec55869f5630dd145f5f61fb9d5b1cb","Size":0,"Tags":null},{"Comment":"","Created":1796661762,"CreatedBy":"/bin/sh -c echo \"$GREETING\" > /greeting.txt","Id":"sha256:e3899e57c8c59c36f4f03c6a3bea517a19fb8a6c1cc600436176d9fa7d9fa348","Size":6,"Tags":null},{"Comment":"","Created":1796661760,"CreatedBy":"/bin/sh -c #(nop)  LABEL org.example.kind=test","Id":"sha256:db59a898cef102dbcafd878ec67fe537de00c6d91f05eafe9db4f1e5ae73d0eb","Size":0,"Tags":null},{"Comment":"","Created":1796661760,"CreatedBy":"/bin/sh -c #(nop)  ENV GREETING=hello","Id":"sha256:f6ca9c51f4eddf3297ff03d1935f5057de852649d713707df40ac7fdce8d1071","Size":0,"Tags":null},{"Comment":"Imported from -","Created":1796661759,"CreatedBy":"","Id":"sha256:3f8bcf6a16aae2196c80d6a02e89b30ebdf32e43cdf8c409559de5c9548d3085","Size":1984246,"Tags":["busybox:latest"]}]"##;

/// `volumes`
const VOLUMES: &str = r##"{"Volumes":[{"CreatedAt":"2026-12-07T16:42:55Z","Driver":"local","Labels":null,"Mountpoint":"/tmp/models-docker/root/volumes/vol1/_data","Name":"vol1","Options":null,"Scope":"local"}],"Warnings":null}"##;

/// `volume`
const VOLUME: &str = r##"{"CreatedAt":"2026-12-07T16:42:55Z","Driver":"local","Labels":null,"Mountpoint":"/tmp/models-docker/root/volumes/vol1/_data","Name":"vol1","Options":null,"Scope":"local"}"##;

/// `networks`
const NETWORKS: &str = r##"[{"Name":"none","Id":"73ea61c1d380429f8b57b62e0b4812ea553ffdd0ffd488c5fc72acde8bfe0250","Created":"2026-12-07T16:42:18.327670271Z","Scope":"local","Driver":"null","EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},"Options":{},"Labels":{}},{"Name":"host","Id":"6c9a5b9fe72abcfe7d8b2463950cabd603d0cfdbc18e1df482483a320f1c1053","Created":"2026-12-07T16:42:18.353282269Z","Scope":"local","Driver":"host","EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},"Options":{},"Labels":{}},{"Name":"bridge","Id":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","Created":"2026-12-07T16:42:18.393819884Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{},"Options":{"com.docker.network.bridge.default_bridge":"true","com.docker.network.bridge.enable_icc":"true","com.docker.network.bridge.enable_ip_masquerade":"true","com.docker.network.bridge.host_binding_ipv4":"0.0.0.0","com.docker.network.bridge.name":"docker0","com.docker.network.driver.mtu":"1500"},"Labels":{}}]"##;

/// `network_bridge`
const NETWORK_BRIDGE: &str = r##"{"Name":"bridge","Id":"bbcd4272a72c2c109cba7b974393f109ad38b9013ff50f5253cacce5741080ad","Created":"2026-12-07T16:42:18.393819884Z","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16"}]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigFrom":{"Network":""},"ConfigOnly":false,"Containers":{"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e":{"Name":"runs","EndpointID":"a7a5ea42bcb61ad958ff82f42245f219c7c9f06ceeaed01dc830fa1be31d8f0e","MacAddress":"02:42:ac:11:00:02","IPv4Address":"172.17.0.2/16","IPv6Address":""}},"Options":{"com.docker.network.bridge.default_bridge":"true","com.docker.network.bridge.enable_icc":"true","com.docker.network.bridge.enable_ip_masquerade":"true","com.docker.network.bridge.host_binding_ipv4":"0.0.0.0","com.docker.network.bridge.name":"docker0","com.docker.network.driver.mtu":"1500"},"Labels":{}}"##;

/// `info`
const INFO: &str = r##"{"ID":"76XS:5MSZ:O2LE:ZH5B:44BJ:DUKS:FUWO:TCTJ:TMYZ:B6FG:VGA6:RTD7","Containers":3,"ContainersRunning":1,"ContainersPaused":0,"ContainersStopped":2,"Images":11,"Driver":"overlay2","DriverStatus":[["Backing Filesystem","extfs"],["Supports d_type","true"],["Native Overlay Diff","true"],["userxattr","false"]],"Plugins":{"Volume":["local"],"Network":["bridge","host","ipvlan","macvlan","null","overlay"],"Authorization":null,"Log":["awslogs","fluentd","gcplogs","gelf","journald","json-file","local","logentries","splunk","syslog"]},"MemoryLimit":true,"SwapLimit":true,"KernelMemory":true,"KernelMemoryTCP":true,"CpuCfsPeriod":true,"CpuCfsQuota":true,"CPUShares":true,"CPUSet":true,"PidsLimit":true,"IPv4Forwarding":true,"BridgeNfIptables":true,"BridgeNfIp6tables":true,"Debug":false,"NFd":32,"OomKillDisable":true,"NGoroutines":45,"SystemTime":"2026-12-07T16:42:56.967943616Z","LoggingDriver":"json-file","CgroupDriver":"cgroupfs","CgroupVersion":"1","NEventsListener":0,"KernelVersion":"6.18.44-fc-v1272","OperatingSystem":"Debian GNU/Linux 12 (bookworm)","OSVersion":"12","OSType":"linux","Architecture":"x86_64","IndexServerAddress":"https://index.docker.io/v1/","RegistryConfig":{"AllowNondistributableArtifactsCIDRs":[],"AllowNondistributableArtifactsHostnames":[],"InsecureRegistryCIDRs":["127.0.0.0/8"],"IndexConfigs":{"docker.io":{"Name":"docker.io","Mirrors":[],"Secure":true,"Official":true}},"Mirrors":[]},"NCPU":2,"MemTotal":25324953600,"GenericResources":null,"DockerRootDir":"/tmp/models-docker/root","HttpProxy":"","HttpsProxy":"","NoProxy":"","Name":"vm","Labels":[],"ExperimentalBuild":false,"ServerVersion":"20.10.24+dfsg1","Runtimes":{"io.containerd.runc.v2":{"path":"runc"},"io.containerd.runtime.v1.linux":{"path":"runc"},"runc":{"path":"runc"}},"DefaultRuntime":"runc","Swarm":{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive","ControlAvailable":false,"Error":"","RemoteManagers":null},"LiveRestoreEnabled":false,"Isolation":"","InitBinary":"docker-init","ContainerdCommit":{"ID":"1.6.20~ds1-1+deb12u3","Expected":"1.6.20~ds1-1+deb12u3"},"RuncCommit":{"ID":"1.1.5+ds1-1+deb12u1","Expected":"1.1.5+ds1-1+deb12u1"},"InitCommit":{"ID":"","Expected":""},"SecurityOptions":["name=seccomp,profile=default"],"Warnings":null}"##;

/// `version`
const VERSION: &str = r##"{"Platform":{"Name":""},"Components":[{"Name":"Engine","Version":"20.10.24+dfsg1","Details":{"ApiVersion":"1.41","Arch":"amd64","BuildTime":"2026-05-07T21:09:36.000000000+00:00","Experimental":"false","GitCommit":"5d6db84","GoVersion":"go1.19.8","KernelVersion":"6.18.44-fc-v1272","MinAPIVersion":"1.12","Os":"linux"}},{"Name":"containerd","Version":"1.6.20~ds1","Details":{"GitCommit":"1.6.20~ds1-1+deb12u3"}},{"Name":"runc","Version":"1.1.5+ds1","Details":{"GitCommit":"1.1.5+ds1-1+deb12u1"}},{"Name":"docker-init","Version":"0.19.0","Details":{"GitCommit":""}}],"Version":"20.10.24+dfsg1","ApiVersion":"1.41","MinAPIVersion":"1.12","GitCommit":"5d6db84","GoVersion":"go1.19.8","Os":"linux","Arch":"amd64","KernelVersion":"6.18.44-fc-v1272","BuildTime":"2026-05-07T21:09:36.000000000+00:00"}"##;

/// `exec_created`
const EXEC_CREATED: &str = r##"{"ID":"4578bcdf33ff58f27a76606ef133545ae27edfc70460e105eba05fe93e0d6c38","Running":false,"ExitCode":null,"ProcessConfig":{"tty":false,"entrypoint":"true","arguments":[],"privileged":false},"OpenStdin":false,"OpenStderr":false,"OpenStdout":false,"CanRemove":false,"ContainerID":"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e","DetachKeys":"","Pid":0}"##;

/// `exec_done`
const EXEC_DONE: &str = r##"{"ID":"4578bcdf33ff58f27a76606ef133545ae27edfc70460e105eba05fe93e0d6c38","Running":false,"ExitCode":0,"ProcessConfig":{"tty":false,"entrypoint":"true","arguments":[],"privileged":false},"OpenStdin":false,"OpenStderr":false,"OpenStdout":false,"CanRemove":false,"ContainerID":"e52d602e560199ee64b1be542478157010bac46b14f12ea1e90fb7c27fc03d2e","DetachKeys":"","Pid":31441}"##;

/// `err`
const ERR: &str = r##"{"message":"No such container: nosuch"}"##;

/// Fields API 1.47 writes that 1.41 did not, or leaves out where 1.41
/// wrote them (moby v27's `api/types`).
const INSPECT_1_47: &[&str] = &[
    // `EndpointSettings.DNSNames` (API 1.44).
    "+.NetworkSettings.Networks.bridge.DNSNames",
    // `KernelMemory`/`KernelMemoryTCP` became omitempty (deprecated).
    "-.HostConfig.KernelMemory",
    "-.HostConfig.KernelMemoryTCP",
];

#[test]
fn container_inspect_as_dockerd_writes_it() {
    for recorded in [INSPECT_CREATED, INSPECT_RUNNING, INSPECT_EXITED] {
        let (c, d) = round_trip::<container::Inspect>(recorded);
        assert_eq!(d, set(INSPECT_1_47));
        let out = serde_json::to_string(&c).unwrap();
        let b: bollard_stubs::models::ContainerInspectResponse =
            serde_json::from_str(&out).unwrap();
        assert_eq!(b.id.as_deref(), Some(c.id.as_str()));
    }
    // What the values say, typed.
    let (c, _) = round_trip::<container::Inspect>(INSPECT_RUNNING);
    let cfg = c.config.unwrap();
    assert_eq!(
        cfg.cmd.as_deref(),
        Some(&["sleep".to_string(), "600".into()][..])
    );
    assert_eq!(cfg.volumes, None);
    assert_eq!(cfg.label("k"), Some("v"));
    let host = c.host_config.unwrap();
    assert_eq!(host.binds(), ["vol1:/data"]);
    assert_eq!(
        host.port_bindings.unwrap()["80/tcp"].as_ref().unwrap()[0].host_port,
        "8080"
    );
    assert_eq!(c.state.unwrap().status, "running");
}

#[test]
fn container_list_as_dockerd_writes_it() {
    let (list, d) = round_trip::<Vec<container::Summary>>(PS);
    let want: BTreeSet<String> = (0..list.len())
        .map(|i| format!("+[{i}].NetworkSettings.Networks.bridge.DNSNames"))
        .collect();
    assert_eq!(d, want);
    let out = serde_json::to_string(&list).unwrap();
    let b: Vec<bollard_stubs::models::ContainerSummary> = serde_json::from_str(&out).unwrap();
    assert_eq!(b.len(), 3);
}

#[test]
fn images_as_dockerd_writes_them() {
    // `Container` became omitempty (API 1.44 deprecated it).
    let (i, d) = round_trip::<image::Inspect>(IMAGE_IMPORTED);
    assert_eq!(d, set(&["-.Container"]));
    assert_eq!(i.comment, "Imported from -");
    assert_eq!(i.config.as_ref().unwrap().env, None);
    let (i, d) = round_trip::<image::Inspect>(IMAGE_BUILT);
    assert_eq!(d, set(&[]));
    assert!(i.container_config.is_some());
    let out = serde_json::to_string(&i).unwrap();
    let _: bollard_stubs::models::ImageInspect = serde_json::from_str(&out).unwrap();
    let (list, d) = round_trip::<Vec<image::Summary>>(IMAGES);
    assert_eq!(d, set(&[]));
    let out = serde_json::to_string(&list).unwrap();
    let _: Vec<bollard_stubs::models::ImageSummary> = serde_json::from_str(&out).unwrap();
    let (h, d) = round_trip::<Vec<image::HistoryItem>>(HISTORY);
    assert_eq!(d, set(&[]));
    assert_eq!(h.last().unwrap().comment, "Imported from -");
    let out = serde_json::to_string(&h).unwrap();
    let _: Vec<bollard_stubs::models::HistoryResponseItem> = serde_json::from_str(&out).unwrap();
}

#[test]
fn volumes_and_networks_as_dockerd_writes_them() {
    let (_, d) = round_trip::<volume::ListResponse>(VOLUMES);
    assert_eq!(d, set(&[]));
    let (v, d) = round_trip::<volume::Volume>(VOLUME);
    assert_eq!(d, set(&[]));
    let out = serde_json::to_string(&v).unwrap();
    let _: bollard_stubs::models::Volume = serde_json::from_str(&out).unwrap();
    // `EnableIPv4` is API 1.47's.
    let (list, d) = round_trip::<Vec<network::Network>>(NETWORKS);
    let want: BTreeSet<String> = (0..list.len())
        .map(|i| format!("+[{i}].EnableIPv4"))
        .collect();
    assert_eq!(d, want);
    let (n, d) = round_trip::<network::Network>(NETWORK_BRIDGE);
    assert_eq!(d, set(&["+.EnableIPv4"]));
    let out = serde_json::to_string(&n).unwrap();
    let _: bollard_stubs::models::Network = serde_json::from_str(&out).unwrap();
}

#[test]
fn system_and_exec_as_dockerd_writes_them() {
    // `CDISpecDirs` is API 1.47's.
    let (i, d) = round_trip::<system::Info>(INFO);
    assert_eq!(d, set(&["+.CDISpecDirs"]));
    let out = serde_json::to_string(&i).unwrap();
    let _: bollard_stubs::models::SystemInfo = serde_json::from_str(&out).unwrap();
    // (bollard-stubs 1.47 cannot read `Components[].Details`, dockerd's
    // own answer included: it expects a map of units.)
    let (_, d) = round_trip::<system::Version>(VERSION);
    assert_eq!(d, set(&[]));
    for recorded in [EXEC_CREATED, EXEC_DONE] {
        let (e, d) = round_trip::<exec::ExecInspect>(recorded);
        assert_eq!(d, set(&[]));
        let out = serde_json::to_string(&e).unwrap();
        let _: bollard_stubs::models::ExecInspectResponse = serde_json::from_str(&out).unwrap();
    }
    let (_, d) = round_trip::<system::ErrorResponse>(ERR);
    assert_eq!(d, set(&[]));
}

#[test]
fn create_bodies_read_as_dockerd_reads_them() {
    // dockerd 20.10 took this body and ran `echo` with a 12345678-byte limit.
    let body = br#"{"Image":"busybox","cmd":["echo"],"hostconfig":{"memory":12345678},
        "Env":null,"Labels":null,"Volumes":null,"NetworkingConfig":null}"#;
    let b: container::CreateBody = models::de::from_slice(body).unwrap();
    assert_eq!(b.config.image, "busybox");
    assert_eq!(b.config.cmd, Some(vec!["echo".to_string()]));
    assert_eq!(b.host_config.memory, 12_345_678);
    assert_eq!((b.config.env, b.config.labels), (None, None));
    // Plain serde (a record read back) takes the same rules.
    let b: container::CreateBody = serde_json::from_slice(body).unwrap();
    assert_eq!(b.host_config.memory, 12_345_678);
    // A wrong type names its field.
    let e = models::de::from_slice::<container::CreateBody>(br#"{"HostConfig":{"Binds":"x"}}"#)
        .unwrap_err();
    let e = e.to_string();
    assert!(
        e.starts_with("HostConfig") && e.contains("Binds: invalid type"),
        "{e}"
    );
    // Written back: the config's fields, then HostConfig and NetworkingConfig.
    let v = serde_json::to_value(container::CreateBody::default()).unwrap();
    assert_eq!(v["Cmd"], Value::Null);
    assert_eq!(v["HostConfig"]["Binds"], Value::Null);
    assert!(v["HostConfig"].get("Mounts").is_none());
}

/// The differences between `typed` as written and `recorded`.
fn written<T: Serialize>(typed: &T, recorded: &str) -> BTreeSet<String> {
    let want: Value = serde_json::from_str(recorded).unwrap();
    let mut out = BTreeSet::new();
    diff(&serde_json::to_value(typed).unwrap(), &want, "", &mut out);
    out
}

#[test]
fn images_per_api_version_as_dockerd_27_writes_them() {
    // 1.41 (dockerd 20.10's own version): as recorded, `VirtualSize` and
    // the build's `Container` included.
    let built: image::Inspect = models::de::from_slice(IMAGE_BUILT.as_bytes()).unwrap();
    let mut old = built.clone();
    old.for_version((1, 41));
    assert_eq!(written(&old, IMAGE_BUILT), set(&[]));
    // 1.47: `VirtualSize` gone (1.44), `Container` gone (1.45).
    let mut new = built;
    new.for_version((1, 47));
    assert_eq!(
        written(&new, IMAGE_BUILT),
        set(&["-.VirtualSize", "-.Container"])
    );
    // The list: `VirtualSize` gone from 1.44, `RepoDigests` an empty list
    // rather than null from 1.43.
    let list: Vec<image::Summary> = models::de::from_slice(IMAGES.as_bytes()).unwrap();
    let at = |v| {
        let mut l = list.clone();
        l.iter_mut().for_each(|i| i.for_version(v));
        written(&l, IMAGES)
    };
    assert_eq!(at((1, 41)), set(&[]));
    let want: BTreeSet<String> = (0..list.len())
        .flat_map(|i| [format!("-[{i}].VirtualSize"), format!("-[{i}].RepoDigests")])
        .collect();
    assert_eq!(at((1, 47)), want);
}

#[test]
fn containers_per_api_version_as_dockerd_27_writes_them() {
    // The running container on a user-defined network `front`, created
    // with the alias `web`: before 1.45 its `Aliases` also hold the short
    // id and the hostname (here the same, so once); from 1.45 only `web`.
    let on_front = INSPECT_RUNNING.replace(
        r#""Networks":{"bridge":{"IPAMConfig":null,"Links":null,"Aliases":null"#,
        r#""Networks":{"front":{"IPAMConfig":null,"Links":null,"Aliases":["web"]"#,
    );
    assert_ne!(on_front, INSPECT_RUNNING);
    let c: container::Inspect = models::de::from_slice(on_front.as_bytes()).unwrap();
    let aliases = |v| {
        let mut c = c.clone();
        c.for_version(v);
        let n = c.network_settings.unwrap().networks.unwrap();
        n["front"].aliases.clone().unwrap()
    };
    assert_eq!(aliases((1, 41)), ["web", "e52d602e5601"]);
    assert_eq!(aliases((1, 44)), ["web", "e52d602e5601"]);
    assert_eq!(aliases((1, 45)), ["web"]);
    assert_eq!(aliases((1, 47)), ["web"]);
    // The default bridge is left alone at every version: 1.41's answer is
    // dockerd 20.10's, but for what 1.47 added.
    for v in [(1, 41), (1, 47)] {
        let mut c: container::Inspect = models::de::from_slice(INSPECT_RUNNING.as_bytes()).unwrap();
        c.for_version(v);
        assert_eq!(written(&c, INSPECT_RUNNING), set(INSPECT_1_47));
    }
    // The list: `HostConfig.Annotations` from 1.46 on only.
    let mut list: Vec<container::Summary> = models::de::from_slice(PS.as_bytes()).unwrap();
    list[0]
        .host_config
        .annotations
        .insert("org.example".into(), "1".into());
    let at = |v| {
        let mut l = list.clone();
        l.iter_mut().for_each(|c| c.for_version(v));
        serde_json::to_value(&l).unwrap()[0]["HostConfig"].clone()
    };
    assert_eq!(at((1, 41)), serde_json::json!({"NetworkMode": "default"}));
    assert_eq!(
        at((1, 47)),
        serde_json::json!({"NetworkMode": "default", "Annotations": {"org.example": "1"}})
    );
}
