// pairctl: paired volume control. Parses the command line, sends one request to the local node's
// control endpoint, prints the answer (a table, or JSON with --json), exits with pairctl(8)'s code.
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "node/config.h"
#include "node/names.h"
#include "node/pairctl_format.h"
#include "wire/limits.h"
#include "wire/link.h"

namespace pairfs::node {
namespace {

constexpr int kExitUsage = 2;

struct Options {
  std::string config_flag;
  bool json = false;
  std::string name;
  std::string size;
  std::string holder;
};

int Fail(const Status& status) {
  std::cerr << "pairctl: " << status.message() << "\n";
  return ExitCodeFor(status);
}

// Sends `request` to the node and returns its reply, or the Status explaining why there is none.
template <class T>
Result<wire::Reply> Ask(const Config& config, const T& request) {
  const std::string& endpoint = config.site.control;
  Status listening = wire::ProbeEndpoint(endpoint);
  if (!listening.ok()) {
    return Status::Unreachable("pairfs for site " + config.site.name + " is not running: " + listening.message());
  }
  wire::Context context;
  Result<std::unique_ptr<wire::Client>> client = wire::Client::Connect(context, endpoint, config.site.name);
  if (!client.ok()) return client.status();
  Result<wire::Reply> reply = client.value()->Call(request, wire::kDefaultControlTimeoutMs);
  if (!reply.ok() && reply.status().code() == Code::kUnreachable) {
    return Status::Unreachable("pairfs for site " + config.site.name + " did not answer at " + endpoint + ": " +
                               reply.status().message());
  }
  return reply;
}

// Runs one request and prints its outcome with `print` (called only on success).
template <class T, class Print>
int Run(const Config& config, const T& request, Print print) {
  Result<wire::Reply> reply = Ask(config, request);
  if (!reply.ok()) return Fail(reply.status());
  Status status = reply->ToStatus();
  if (!status.ok()) return Fail(status);
  print(reply.value());
  return 0;
}

void PrintJson(const nlohmann::ordered_json& document) { std::cout << document.dump(2) << "\n"; }

}  // namespace

int Main(int argc, char** argv) {
  Options options;
  CLI::App app{"pairctl: paired volume control for pairfs (see pairctl(8))", "pairctl"};
  app.set_version_flag("--version", "pairctl 0.1 (protocol " + std::to_string(wire::kProtocolVersion) + ")");
  app.add_option("-c,--config", options.config_flag, "config file (default $PAIRFS_CONFIG or /etc/pairfs/pairfs.toml)");
  app.add_flag("--json", options.json, "print JSON instead of a table");
  app.require_subcommand(1);

  CLI::App* volume = app.add_subcommand("volume", "create, delete, list and resize volumes");
  volume->require_subcommand(1);
  CLI::App* create = volume->add_subcommand("create", "create a sparse volume: volume create NAME SIZE");
  create->add_option("NAME", options.name, "volume name, [A-Za-z0-9._-]{1,64}")->required();
  create->add_option("SIZE", options.size, "bytes, or with a K/M/G/T suffix; a multiple of 4 KiB")->required();
  CLI::App* remove = volume->add_subcommand("delete", "delete a volume and its data: volume delete NAME");
  remove->add_option("NAME", options.name, "volume name")->required();
  CLI::App* list = volume->add_subcommand("list", "list the volumes of this site");
  CLI::App* resize = volume->add_subcommand("resize", "grow a volume: volume resize NAME SIZE");
  resize->add_option("NAME", options.name, "volume name")->required();
  resize->add_option("SIZE", options.size, "the new size, not smaller than the current one")->required();

  CLI::App* display = app.add_subcommand("display", "the pair table: display [NAME]");
  display->add_option("NAME", options.name, "one volume (default: all)");
  CLI::App* reserve = app.add_subcommand("reserve", "reserve a volume for a site: reserve NAME [--holder ID]");
  reserve->add_option("NAME", options.name, "volume name")->required();
  reserve->add_option("--holder", options.holder, "the site that holds it (default: this site)");
  CLI::App* release = app.add_subcommand("release", "release a reservation: release NAME [--holder ID]");
  release->add_option("NAME", options.name, "volume name")->required();
  release->add_option("--holder", options.holder, "the site that holds it (default: this site)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "pairctl: " << e.what() << "\n" << "Run 'pairctl --help' for usage.\n";
    return kExitUsage;
  }

  Result<uint64_t> size = uint64_t{0};
  if (create->parsed() || resize->parsed()) {
    size = ParseVolumeSize(options.size);
    if (!size.ok()) {
      std::cerr << "pairctl: " << size.status().message() << "\n";
      return kExitUsage;
    }
  }
  Result<Config> config = LoadConfig(ResolveConfigPath(options.config_flag));
  if (!config.ok()) return Fail(config.status());
  const Config& c = config.value();
  const bool json = options.json;

  if (create->parsed()) {
    return Run(c, wire::VolumeCreateRequest{options.name, size.value()}, [&](const wire::Reply& r) {
      if (json) return PrintJson(VolumeListJson(r.volumes.at(0)));
      std::cout << "volume " << options.name << " created, " << FormatSize(size.value()) << "\n";
    });
  }
  if (remove->parsed()) {
    return Run(c, wire::VolumeDeleteRequest{options.name}, [&](const wire::Reply&) {
      if (json) return PrintJson({{"name", options.name}, {"deleted", true}});
      std::cout << "volume " << options.name << " deleted\n";
    });
  }
  if (list->parsed()) {
    return Run(c, wire::VolumeListRequest{}, [&](const wire::Reply& r) {
      if (!json) return void(std::cout << VolumeListTable(r.volumes));
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (const auto& v : r.volumes) rows.push_back(VolumeListJson(v));
      PrintJson(rows);
    });
  }
  if (resize->parsed()) {
    return Run(c, wire::VolumeResizeRequest{options.name, size.value()}, [&](const wire::Reply& r) {
      if (json) return PrintJson(VolumeListJson(r.volumes.at(0)));
      std::cout << "volume " << options.name << " is " << FormatSize(size.value()) << "\n";
    });
  }
  if (display->parsed()) {
    return Run(c, wire::DisplayRequest{options.name}, [&](const wire::Reply& r) {
      if (!json) return void(std::cout << DisplayTable(r.volumes));
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (const auto& v : r.volumes) rows.push_back(DisplayJson(v));
      PrintJson(rows);
    });
  }
  const bool reserving = reserve->parsed();
  auto print_reservation = [&](const wire::Reply& r) {
    if (json) return PrintJson(DisplayJson(r.volumes.at(0)));
    const std::string& holder = r.volumes.at(0).reserved_by;
    if (holder.empty()) {
      std::cout << "volume " << options.name << " is not reserved\n";
    } else {
      std::cout << "volume " << options.name << " is reserved by site " << holder << "\n";
    }
  };
  if (reserving) return Run(c, wire::ReserveRequest{options.name, options.holder}, print_reservation);
  return Run(c, wire::ReleaseRequest{options.name, options.holder}, print_reservation);
}

}  // namespace pairfs::node

int main(int argc, char** argv) { return pairfs::node::Main(argc, argv); }
