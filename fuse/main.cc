// pairfs: the site node. Loads the config, opens the volume store, serves the control endpoint
// and mounts the volumes as files. See pairfs(8).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>

#include "fuse/operations.h"
#include "node/config.h"
#include "node/control_server.h"
#include "node/data_dir.h"
#include "node/log.h"
#include "node/security.h"
#include "node/store.h"
#include "node/witness_server.h"
#include "wire/limits.h"
#include "wire/link.h"
#include "wire/peer_link.h"

namespace pairfs::fuse {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// libfuse worker threads: enough for a queue depth of a few dozen asynchronous requests
// (each holds a 1 MiB buffer, so this also bounds memory).
constexpr unsigned kMaxFuseThreads = 16;

struct Options {
  std::string config_flag;
  bool foreground = false;
  bool debug = false;
  bool witness = false;
  std::vector<std::string> fuse_options;
  std::string mountpoint;
};

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return kExitFailed;
}

// Holds an exclusive lock on DATA_DIR/lock for the life of the process, so that two nodes never
// serve one data directory. The descriptor survives fuse_daemonize's fork.
Status LockDataDir(const std::string& data_dir) {
  const std::string path = data_dir + "/lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot open " + path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int saved = errno;
    ::close(fd);
    if (saved == EWOULDBLOCK) return Status::Busy("another pairfs is serving " + data_dir);
    return Status::IoError("cannot lock " + path, saved);
  }
  return Status::Ok();
}

// Checks that an endpoint (`what`: "control endpoint", ...) can be bound before the process
// detaches, so the user sees "address in use" on the terminal. ZeroMQ cannot cross a fork, so
// this context is thrown away. An ipc:// bind would silently replace a live process's socket file
// (ZeroMQ unlinks it first), so a listener there is refused here.
Status CheckEndpointFree(const std::string& endpoint, const std::string& what) {
  if (endpoint.rfind("ipc://", 0) == 0 && wire::ProbeEndpoint(endpoint).ok()) {
    return Status::Busy(what + " " + endpoint + " is in use by another process (another pairfs?)");
  }
  wire::Context context;
  Result<std::unique_ptr<wire::Server>> server = wire::Server::Bind(context, endpoint);
  return server.status();
}

// Checks the data directory's permissions (node/data_dir.h); a daemon that will detach logs to
// DATA_DIR/pairfs.log as well (it loses stderr).
Status LogToDataDir(const Options& options, const std::string& data_dir) {
  Status prepared = node::PrepareDataDir(data_dir);
  if (!prepared.ok() || options.foreground) return prepared;
  return node::SetUpLogging("pairfs", data_dir + "/pairfs.log", options.debug);
}

// The CURVE keys of this site's site-to-site sockets (node/security.h), or nullopt for plain ones.
using SiteKeys = std::optional<wire::CurveKeys>;

// Set by SIGTERM, SIGINT and SIGHUP: the witness's serving loop polls it.
std::atomic<bool> witness_stopping{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void StopWitness(int) { witness_stopping.store(true); }

// pairfs --witness: the third copy of the determining volumes' reservation records
// (node/witness_server.h). No volumes and no FUSE; the same data-directory lock, bind check
// before detaching and background logging as a site node.
int RunWitness(const Options& options) {
  if (!options.mountpoint.empty() || !options.fuse_options.empty()) {
    std::cerr << "pairfs: --witness mounts nothing: give it no MOUNTPOINT and no -o\n";
    return kExitUsage;
  }
  Result<node::Config> loaded = node::LoadConfig(node::ResolveConfigPath(options.config_flag));
  if (!loaded.ok()) return Fail(loaded.status().message());
  const node::Config& config = loaded.value();
  Status usable = node::CheckWitnessConfig(config);
  if (!usable.ok()) {
    std::cerr << "pairfs: " << usable.message() << "\n";
    return kExitUsage;
  }
  Result<SiteKeys> keys = node::SiteToSiteKeys(config);
  if (!keys.ok()) return Fail(keys.status().message());
  Status ready = LogToDataDir(options, config.site.data_dir);
  Result<std::unique_ptr<node::WitnessStore>> store = node::WitnessStore::Open(config.site.data_dir);
  if (ready.ok()) ready = store.status();
  if (ready.ok()) ready = LockDataDir(config.site.data_dir);
  if (ready.ok()) ready = CheckEndpointFree(config.witness.endpoint, "witness endpoint");
  if (!ready.ok()) return Fail(ready.message());
  if (fuse_daemonize(options.foreground ? 1 : 0) != 0) return Fail("cannot detach into the background");
  struct sigaction stop {};
  stop.sa_handler = StopWitness;
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(signal_number, &stop, nullptr);
  wire::Context context;
  if (keys.value()) context.UseCurve(*keys.value());
  node::WitnessServer server(*store.value(), config.site.name, config.witness.sites);
  Status served = server.Serve(context, config.witness.endpoint, witness_stopping);
  if (!served.ok()) return Fail("witness.endpoint: " + served.message());
  return 0;
}

// The replicator's transport over the real link.
class LinkTransport : public node::PeerTransport {
 public:
  Status Send(std::string frame_bytes) override {
    wire::PeerLink* link = link_.load();
    if (link == nullptr) return Status::Unreachable("the peer link is not up");
    return link->Send(std::move(frame_bytes));
  }
  void Attach(wire::PeerLink* link) { link_.store(link); }

 private:
  std::atomic<wire::PeerLink*> link_{nullptr};
};

// The witness's vote over a context and socket of their own per vote (votes are rare: a race,
// a release): no socket is shared between the threads that may ask, and nothing of ZeroMQ
// exists before the daemon forks.
// With keys, each vote's socket is a CURVE client trusting only the witness's key.
class WitnessClient : public node::WitnessTransport {
 public:
  WitnessClient(std::string endpoint, std::string site, SiteKeys keys, std::string witness_site)
      : endpoint_(std::move(endpoint)), site_(std::move(site)), keys_(std::move(keys)),
        witness_site_(std::move(witness_site)) {}
  Result<wire::Reply> Vote(const wire::ReserveVoteRequest& request, int timeout_ms) override {
    wire::Context context;
    if (keys_) context.UseCurve(*keys_);
    Result<std::unique_ptr<wire::Client>> client = wire::Client::Connect(context, endpoint_, site_, witness_site_);
    if (!client.ok()) return client.status();
    return client.value()->Call(request, timeout_ms);
  }

 private:
  const std::string endpoint_;
  const std::string site_;
  const SiteKeys keys_;
  const std::string witness_site_;
};

struct SessionCloser {
  fuse_session* session;
  bool mounted = false;
  ~SessionCloser() {
    if (mounted) fuse_session_unmount(session);
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
  }
};

int Serve(const Options& options, const node::Config& config, node::VolumeStore& store, const SiteKeys& keys,
          const std::string& witness_site) {
  std::vector<std::string> arguments = {"pairfs", "-o",
                                        "fsname=pairfs-" + config.site.name + ",subtype=pairfs,default_permissions"};
  for (const std::string& extra : options.fuse_options) {
    arguments.push_back("-o");
    arguments.push_back(extra);
  }
  if (options.debug) arguments.push_back("-d");
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  const bool paired = config.peer.present && !config.site.listen.empty();
  node::ReplicatorOptions replication;
  replication.site = config.site.name;
  replication.peer_site = paired ? config.peer.name : "";
  replication.peer_timeout_ms = static_cast<int>(config.site.peer_timeout_ms);
  replication.region_size_bytes = config.site.region_size_bytes;
  if (config.cluster.present) {
    replication.determining_volume = config.cluster.determining_volume;
    replication.managed_volumes = config.cluster.volumes;
  }
  LinkTransport transport;
  std::unique_ptr<WitnessClient> witness;
  if (paired && config.witness.present && !config.witness.endpoint.empty()) {
    witness = std::make_unique<WitnessClient>(config.witness.endpoint, config.site.name, keys, witness_site);
  }
  node::Replicator replicator(store, replication, paired ? &transport : nullptr, witness.get());
  MountContext mount{&store, &replicator, config.site.name};
  fuse_session* session = fuse_session_new(&args, &Operations(), sizeof(fuse_lowlevel_ops), &mount);
  fuse_opt_free_args(&args);
  if (session == nullptr) return Fail("cannot start a FUSE session (bad -o option?)");
  SessionCloser closer{session};
  if (fuse_set_signal_handlers(session) != 0) return Fail("cannot install signal handlers");
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    return Fail("cannot mount " + options.mountpoint + " (does it exist? is /dev/fuse there?)");
  }
  closer.mounted = true;
  if (fuse_daemonize(options.foreground ? 1 : 0) != 0) return Fail("cannot detach into the background");

  wire::Context context;
  if (keys) context.UseCurve(*keys);
  std::unique_ptr<wire::PeerLink> link;
  if (paired) {
    Result<std::unique_ptr<wire::PeerLink>> started_link =
        wire::PeerLink::Start(context, config.site.listen, config.peer.endpoint, config.site.name, config.peer.name,
                              [&replicator](wire::Frame frame) { replicator.OnFrame(std::move(frame)); });
    if (!started_link.ok()) return Fail(started_link.status().message());
    link = std::move(started_link.value());
    transport.Attach(link.get());
  }
  Status replicating = replicator.Start();
  if (!replicating.ok()) return Fail(replicating.message());
  node::ControlServer control(store, config.site.name, &replicator, keys.has_value());
  Status started = control.Start(context, config.site.control);
  if (!started.ok()) return Fail(started.message());
  if (paired) spdlog::info("site {}: peer {} at {}, listening on {}, {}", config.site.name, config.peer.name,
                           config.peer.endpoint, config.site.listen,
                           keys ? "authenticated with CURVE keys" : "NOT authenticated (no [security] keys)");
  spdlog::info("site {}: {} mounted", config.site.name, options.mountpoint);

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, kMaxFuseThreads);
  fuse_loop_cfg_set_idle_threads(loop, kMaxFuseThreads / 2);
  const int loop_result = fuse_session_loop_mt(session, loop);
  fuse_loop_cfg_destroy(loop);
  control.Stop();
  replicator.Stop();
  transport.Attach(nullptr);
  link.reset();
  // libfuse returns the number of the signal that ended the loop (SIGTERM, SIGINT, SIGHUP): a
  // clean shutdown. A negative value is an error of the session itself.
  if (loop_result < 0) return Fail("FUSE session failed: " + std::string(std::strerror(-loop_result)));
  spdlog::info("site {}: {} unmounted, exiting", config.site.name, options.mountpoint);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"pairfs: replicated disk-image volumes as files (see pairfs(8))", "pairfs"};
  app.set_version_flag("--version", "pairfs 0.1 (protocol " + std::to_string(wire::kProtocolVersion) + ")");
  app.add_option("-c,--config", options.config_flag, "config file (default $PAIRFS_CONFIG or /etc/pairfs/pairfs.toml)");
  app.add_flag("-f,--foreground", options.foreground, "stay in the foreground and log to stderr only");
  app.add_flag("-d,--debug", options.debug, "log at debug level, including every FUSE request");
  app.add_option("-o", options.fuse_options, "FUSE mount options, comma-separated (e.g. allow_other)")
      ->allow_extra_args(false);  // one value per -o: the mount point is not an option value
  app.add_flag("--witness", options.witness, "run a witness site (see pairfs(8) WITNESS): no MOUNTPOINT, no FUSE");
  app.add_option("MOUNTPOINT", options.mountpoint, "the directory to mount the volumes on (required without --witness)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "pairfs: " << e.what() << "\nRun 'pairfs --help' for usage.\n";
    return kExitUsage;
  }
  (void)node::SetUpLogging("pairfs", "", options.debug);
  if (options.witness) return RunWitness(options);
  if (options.mountpoint.empty()) {
    std::cerr << "pairfs: MOUNTPOINT is required\nRun 'pairfs --help' for usage.\n";
    return kExitUsage;
  }
  // The daemon changes to / when it detaches: unmounting later needs the absolute path.
  char* absolute = ::realpath(options.mountpoint.c_str(), nullptr);
  if (absolute == nullptr) return Fail("mount point " + options.mountpoint + ": " + std::strerror(errno));
  options.mountpoint = absolute;
  std::free(absolute);
  Result<node::Config> config = node::LoadConfig(node::ResolveConfigPath(options.config_flag));
  if (!config.ok()) return Fail(config.status().message());
  Result<SiteKeys> keys = node::SiteToSiteKeys(config.value());
  if (!keys.ok()) return Fail(keys.status().message());
  std::string witness_site;
  if (keys.value() && config->peer.present && config->witness.present && !config->witness.endpoint.empty()) {
    Result<std::string> found = node::WitnessSite(config.value(), *keys.value());
    if (!found.ok()) return Fail(found.status().message());
    witness_site = found.value();
  }
  Status logging = LogToDataDir(options, config->site.data_dir);
  if (!logging.ok()) return Fail(logging.message());
  Result<std::unique_ptr<node::VolumeStore>> store = node::VolumeStore::Open(config->site.data_dir);
  if (!store.ok()) return Fail(store.status().message());
  Status locked = LockDataDir(config->site.data_dir);
  if (!locked.ok()) return Fail(locked.message());
  Status bindable = CheckEndpointFree(config->site.control, "control endpoint");
  if (!bindable.ok()) return Fail(bindable.message());
  if (config->peer.present && !config->site.listen.empty()) {
    // The peer port too, before detaching: "address in use" belongs on the user's terminal.
    wire::Context context;
    Result<std::unique_ptr<wire::Server>> listener = wire::Server::Bind(context, config->site.listen);
    if (!listener.ok()) return Fail("site.listen: " + listener.status().message());
  }
  return Serve(options, config.value(), *store.value(), keys.value(), witness_site);
}

}  // namespace pairfs::fuse

int main(int argc, char** argv) { return pairfs::fuse::Main(argc, argv); }
