// clusterd: one per site; see clusterd(8). Loads the site's config, detaches (unless -f), and runs
// the daemon loop until SIGTERM or SIGINT.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "clusterd/daemon.h"
#include "node/config.h"
#include "node/data_dir.h"
#include "node/log.h"
#include "node/security.h"
#include "wire/limits.h"
#include "wire/link.h"

namespace {

using namespace pairfs;

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::atomic<bool> g_stop{false};

void OnSignal(int) { g_stop.store(true); }

int Fail(const std::string& message) {
  spdlog::error("{}", message);
  return kExitFailed;
}

// Forks into the background: the parent exits 0 once the child is on its own.
bool Detach() {
  const pid_t child = ::fork();
  if (child < 0) return false;
  if (child > 0) ::_exit(0);
  if (::setsid() < 0) return false;
  if (::chdir("/") != 0) return false;
  const int null = ::open("/dev/null", O_RDWR);
  if (null < 0) return false;
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
  if (null > 2) ::close(null);
  return true;
}

int Main(int argc, char** argv) {
  std::string config_flag;
  bool foreground = false;
  bool debug = false;
  CLI::App app{
      "clusterd: heartbeats, the determining volume's reserve and failover (see clusterd(8))",
      "clusterd"};
  app.set_version_flag("--version",
                       "clusterd 0.1 (protocol " + std::to_string(wire::kProtocolVersion) + ")");
  app.add_option("-c,--config", config_flag,
                 "config file (default $PAIRFS_CONFIG or /etc/pairfs/pairfs.toml)");
  app.add_flag("-f,--foreground", foreground, "stay in the foreground and log to stderr only");
  app.add_flag("-d,--debug", debug, "log at debug level");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "clusterd: " << e.what() << "\nRun 'clusterd --help' for usage.\n";
    return kExitUsage;
  }
  (void)node::SetUpLogging("clusterd", "", debug);
  Result<node::Config> config = node::LoadConfig(node::ResolveConfigPath(config_flag));
  if (!config.ok()) return Fail(config.status().message());
  if (!config->cluster.present) {
    std::cerr << "clusterd: " << config->path
              << " has no [cluster] table: nothing to do (see pairfs.toml(5))\n";
    return kExitUsage;
  }
  if (!config->peer.present) {
    std::cerr << "clusterd: " << config->path
              << " has no [peer] table: clusterd needs the other site\n";
    return kExitUsage;
  }
  Result<std::optional<wire::CurveKeys>> keys = node::SiteToSiteKeys(config.value());
  if (!keys.ok()) return Fail(keys.status().message());
  Status prepared = node::PrepareDataDir(config->site.data_dir);
  if (!prepared.ok()) return Fail(prepared.message());
  if (!foreground) {
    // Bind errors belong on the user's terminal: try the daemon once before detaching. ZeroMQ
    // cannot cross a fork, so this context and daemon are thrown away.
    wire::Context context;
    if (keys.value()) context.UseCurve(*keys.value());
    Result<std::unique_ptr<clusterd::Daemon>> trial =
        clusterd::Daemon::Start(config.value(), context);
    if (!trial.ok()) return Fail(trial.status().message());
  }
  if (!foreground) {
    Status logging = node::SetUpLogging("clusterd", config->site.data_dir + "/clusterd.log", debug);
    if (!logging.ok()) return Fail(logging.message());
    if (!Detach())
      return Fail(std::string("cannot detach into the background: ") + std::strerror(errno));
  }
  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  wire::Context context;
  if (keys.value()) context.UseCurve(*keys.value());
  Result<std::unique_ptr<clusterd::Daemon>> daemon =
      clusterd::Daemon::Start(config.value(), context);
  if (!daemon.ok()) return Fail(daemon.status().message());
  daemon.value()->Run(g_stop);
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
