// pairfs: the site node's program. Parses the command line, loads the config, opens the site
// (node/site.h) or the witness (node/witness.h), mounts the volumes as files, detaches and
// runs the FUSE loop. See pairfs(8).
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "fuse/operations.h"
#include "node/config.h"
#include "node/log.h"
#include "node/site.h"
#include "node/witness.h"
#include "node/witness_server.h"
#include "wire/limits.h"

namespace pairfs::fuse {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// libfuse worker threads: one per write of a client with 32 in flight (qemu aio=native, fio
// libaio iodepth 32; operations.cc lets the kernel send that many at once), plus a few for its
// fsyncs and the attribute requests. Each holds a receive buffer of 1 MiB + a page, of which only
// the pages a request touched count: 4 KiB writes at qd32 touch a page or two per thread.
constexpr unsigned kMaxFuseThreads = 40;
// Threads kept waiting once a burst is over; the others end, and their buffers go back. Keeping
// all 40 let every one of them touch its whole buffer with some 1 MiB write later (the kernel
// wakes the waiting threads in turn; a sequential writer after a qd32 burst): 67 MiB peak RSS,
// over the 64 MiB budget. 16 keep that under ~45 MiB; with 8, a qd32 client lost ~10% to threads
// started and ended between its writes.
constexpr unsigned kIdleFuseThreads = 16;

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

node::SiteOptions SiteOptionsOf(const Options& options) {
  return node::SiteOptions{.log_to_data_dir = !options.foreground, .debug = options.debug};
}

// Set by SIGTERM, SIGINT and SIGHUP: the witness's serving loop polls it.
std::atomic<bool> witness_stopping{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");
extern "C" void StopWitness(int) { witness_stopping.store(true); }

// pairfs --witness: the third copy of the determining volumes' reservation records
// (node/witness.h). No volumes and no FUSE.
int RunWitness(const Options& options) {
  if (!options.mountpoint.empty() || !options.fuse_options.empty()) {
    std::cerr << "pairfs: --witness mounts nothing: give it no MOUNTPOINT and no -o\n";
    return kExitUsage;
  }
  Result<node::Config> loaded = node::LoadConfig(node::ResolveConfigPath(options.config_flag));
  if (!loaded.ok()) return Fail(loaded.status().message());
  Status usable = node::CheckWitnessConfig(loaded.value());
  if (!usable.ok()) {
    std::cerr << "pairfs: " << usable.message() << "\n";
    return kExitUsage;
  }
  Result<std::unique_ptr<node::Witness>> witness =
      node::Witness::Open(loaded.value(), SiteOptionsOf(options));
  if (!witness.ok()) return Fail(witness.status().message());
  if (fuse_daemonize(options.foreground ? 1 : 0) != 0)
    return Fail("cannot detach into the background");
  struct sigaction stop {};
  stop.sa_handler = StopWitness;
  for (int signal_number : {SIGTERM, SIGINT, SIGHUP}) ::sigaction(signal_number, &stop, nullptr);
  Status served = witness.value()->Serve(witness_stopping);
  if (!served.ok()) return Fail(served.message());
  return 0;
}

struct SessionCloser {
  fuse_session* session;
  bool mounted = false;
  ~SessionCloser() {
    if (mounted) fuse_session_unmount(session);
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
  }
};

// Mounts the site's volumes, detaches, starts the site and serves FUSE requests until the mount
// goes away or a signal arrives; then stops the site. The Site outlives the session: the mount is
// gone before the replicator is destroyed.
int Mount(const Options& options, node::Site& site) {
  std::vector<std::string> arguments = {
      "pairfs", "-o", "fsname=pairfs-" + site.name() + ",subtype=pairfs,default_permissions"};
  for (const std::string& extra : options.fuse_options) {
    arguments.push_back("-o");
    arguments.push_back(extra);
  }
  if (options.debug) arguments.push_back("-d");
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  MountContext mount{&site.store(), &site.replicator(), site.name()};
  fuse_session* session = fuse_session_new(&args, &Operations(), sizeof(fuse_lowlevel_ops), &mount);
  fuse_opt_free_args(&args);
  if (session == nullptr) return Fail("cannot start a FUSE session (bad -o option?)");
  SessionCloser closer{session};
  if (fuse_set_signal_handlers(session) != 0) return Fail("cannot install signal handlers");
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    return Fail("cannot mount " + options.mountpoint + " (does it exist? is /dev/fuse there?)");
  }
  closer.mounted = true;
  if (fuse_daemonize(options.foreground ? 1 : 0) != 0)
    return Fail("cannot detach into the background");

  Status started = site.Start();
  if (!started.ok()) return Fail(started.message());
  spdlog::info("site {}: {} mounted", site.name(), options.mountpoint);

  fuse_loop_config* loop = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(loop, kMaxFuseThreads);
  fuse_loop_cfg_set_idle_threads(loop, kIdleFuseThreads);
  const int loop_result = fuse_session_loop_mt(session, loop);
  fuse_loop_cfg_destroy(loop);
  site.Stop();
  // libfuse returns the number of the signal that ended the loop (SIGTERM, SIGINT, SIGHUP): a
  // clean shutdown. A negative value is an error of the session itself.
  if (loop_result < 0)
    return Fail("FUSE session failed: " + std::string(std::strerror(-loop_result)));
  spdlog::info("site {}: {} unmounted, exiting", site.name(), options.mountpoint);
  return 0;
}

}  // namespace

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"pairfs: replicated disk-image volumes as files (see pairfs(8))", "pairfs"};
  app.set_version_flag("--version",
                       "pairfs 0.1 (protocol " + std::to_string(wire::kProtocolVersion) + ")");
  app.add_option("-c,--config", options.config_flag,
                 "config file (default $PAIRFS_CONFIG or /etc/pairfs/pairfs.toml)");
  app.add_flag("-f,--foreground", options.foreground,
               "stay in the foreground and log to stderr only");
  app.add_flag("-d,--debug", options.debug, "log at debug level, including every FUSE request");
  app.add_option("-o", options.fuse_options,
                 "FUSE mount options, comma-separated (e.g. allow_other)")
      ->allow_extra_args(false);  // one value per -o: the mount point is not an option value
  app.add_flag("--witness", options.witness,
               "run a witness site (see pairfs(8) WITNESS): no MOUNTPOINT, no FUSE");
  app.add_option("MOUNTPOINT", options.mountpoint,
                 "the directory to mount the volumes on (required without --witness)");
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
  if (absolute == nullptr)
    return Fail("mount point " + options.mountpoint + ": " + std::strerror(errno));
  options.mountpoint = absolute;
  std::free(absolute);
  Result<node::Config> config = node::LoadConfig(node::ResolveConfigPath(options.config_flag));
  if (!config.ok()) return Fail(config.status().message());
  Result<std::unique_ptr<node::Site>> site =
      node::Site::Open(config.value(), SiteOptionsOf(options));
  if (!site.ok()) return Fail(site.status().message());
  return Mount(options, *site.value());
}

}  // namespace pairfs::fuse

int main(int argc, char** argv) { return pairfs::fuse::Main(argc, argv); }
