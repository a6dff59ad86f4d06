// pairctl: paired volume control. Parses the command line, sends one request to the local node's
// control endpoint, prints the answer (a table, or JSON with --json), exits with pairctl(8)'s code.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "node/config.h"
#include "node/limits.h"
#include "node/names.h"
#include "pairctl/client.h"
#include "pairctl/events.h"  // ops (issue 15 part 1)
#include "wire/limits.h"
#include "wire/link.h"
#include "wire/paging.h"

namespace pairfs::pairctl {
namespace {

using node::FormatSize;

// split, resync or takeover --group: one line (or JSON object) per pair of the group, also when
// some failed; the exit code is the first failed pair's.
template <class T>
int RunGroup(const Config& config, const T& request, const Options& options,
             const std::string& what) {
  Result<wire::Reply> reply = Ask(config, request);
  if (!reply.ok()) return Fail(reply.status());
  Status status = reply->ToStatus();
  if (reply->outcomes.empty() && !status.ok()) return Fail(status);  // refused before any pair
  if (options.json) {
    PrintJson(GroupJson(reply.value(), options.group, what));
  } else {
    std::cout << GroupText(reply.value(), what);
    if (status.ok() && !reply->message.empty()) std::cout << reply->message << "\n";
  }
  return status.ok() ? 0 : Fail(status);
}

// The subcommands, each set by CLI11 when it was given.
struct Commands {
  CLI::App* volume_create = nullptr;
  CLI::App* volume_delete = nullptr;
  CLI::App* volume_list = nullptr;
  CLI::App* volume_resize = nullptr;
  CLI::App* display = nullptr;
  CLI::App* reserve = nullptr;
  CLI::App* release = nullptr;
  CLI::App* pair_create = nullptr;
  CLI::App* split = nullptr;
  CLI::App* resync = nullptr;
  CLI::App* takeover = nullptr;
  CLI::App* dissolve = nullptr;
  CLI::App* wait = nullptr;
  CLI::App* verify = nullptr;
  CLI::App* cluster_status = nullptr;
  CLI::App* cluster_unfence = nullptr;
  CLI::App* cluster_takeover = nullptr;  // ops (issue 15)
  CLI::App* keygen = nullptr;
  // pairctl events [--now] (issue 15)
  CLI::App* events = nullptr;
  bool events_now = false;
};

// volume create/delete/list/resize, display, reserve and release.
void AddVolumeCommands(CLI::App& app, Options& options, Commands& commands) {
  CLI::App* volume = app.add_subcommand("volume", "create, delete, list and resize volumes");
  volume->require_subcommand(1);
  CLI::App* create = commands.volume_create =
      volume->add_subcommand("create", "create a sparse volume: volume create NAME SIZE");
  create->add_option("NAME", options.name, "volume name, [A-Za-z0-9._-]{1,64}")->required();
  create->add_option("SIZE", options.size, "bytes, or with a K/M/G/T suffix; a multiple of 4 KiB")
      ->required();
  CLI::App* remove = commands.volume_delete =
      volume->add_subcommand("delete", "delete a volume and its data: volume delete NAME");
  remove->add_option("NAME", options.name, "volume name")->required();
  commands.volume_list = volume->add_subcommand("list", "list the volumes of this site");
  CLI::App* resize = commands.volume_resize =
      volume->add_subcommand("resize", "grow a volume: volume resize NAME SIZE");
  resize->add_option("NAME", options.name, "volume name")->required();
  resize->add_option("SIZE", options.size, "the new size, not smaller than the current one")
      ->required();

  CLI::App* display = commands.display =
      app.add_subcommand("display", "the pair table: display [NAME]");
  display->add_option("NAME", options.name, "one volume (default: all)");
  display->add_option("--group", options.group, "the pairs of this consistency group");
  CLI::App* reserve = commands.reserve =
      app.add_subcommand("reserve", "reserve a volume for a site: reserve NAME [--holder ID]");
  reserve->add_option("NAME", options.name, "volume name")->required();
  reserve->add_option("--holder", options.holder, "the site that holds it (default: this site)");
  CLI::App* release = commands.release =
      app.add_subcommand("release", "release a reservation: release NAME [--holder ID]");
  release->add_option("NAME", options.name, "volume name")->required();
  release->add_option("--holder", options.holder, "the site that holds it (default: this site)");
}

// create, split, resync, takeover, dissolve, wait and verify.
void AddPairCommands(CLI::App& app, Options& options, Commands& commands) {
  CLI::App* pair_create = commands.pair_create =
      app.add_subcommand("create", "pair a volume with the peer site's: create NAME --mode sync");
  pair_create->add_option("NAME", options.name, "the volume here, which becomes the primary")
      ->required();
  pair_create->add_option("--mode", options.mode, "sync (async is not in this version)")
      ->required();
  pair_create->add_option("--peer-volume", options.peer_volume,
                          "the volume at the peer (default: the same name)");
  pair_create->add_option("--fence", options.fence,
                          "data, reserve or never (default never; reserve for [cluster] volumes)");
  pair_create->add_option("--group", options.group, "consistency group name");
  const char* group_help = "every pair of this consistency group, in place of NAME";
  CLI::App* split = commands.split =
      app.add_subcommand("split", "suspend a pair: split NAME|--group G [--rw]");
  split->add_option("NAME", options.name, "volume name");
  split->add_option("--group", options.group, group_help);
  split->add_flag("--rw", options.read_write, "make the secondary writable too (SSUS)");
  CLI::App* resync = commands.resync = app.add_subcommand(
      "resync", "copy what changed and return to PAIR: resync NAME|--group G [--swap]");
  resync->add_option("NAME", options.name, "volume name");
  resync->add_option("--group", options.group, group_help);
  resync->add_flag("--swap", options.swap, "make the issuing site the primary (its copy wins)");
  CLI::App* takeover = commands.takeover = app.add_subcommand(
      "takeover", "make the secondary here the writable one: takeover NAME|--group G [--force]");
  takeover->add_option("NAME", options.name, "volume name");
  takeover->add_option("--group", options.group, group_help);
  takeover->add_flag("--force", options.force,
                     "also for an outdated or inconsistent copy (loses the newer data)");
  CLI::App* dissolve = commands.dissolve =
      app.add_subcommand("dissolve", "remove the pair, keep both copies: dissolve NAME");
  dissolve->add_option("NAME", options.name, "volume name")->required();
  CLI::App* wait = commands.wait = app.add_subcommand(
      "wait", "wait for a status: wait NAME|--group G --status S [--timeout SECONDS] [--progress]");
  wait->add_option("NAME", options.name, "volume name");
  wait->add_option("--group", options.group, group_help);
  wait->add_option("--status", options.status, "SMPL COPY PAIR PSUS PSUE SSUS SSWS PFUL PFUS")
      ->required()
      ->check(
          CLI::IsMember({"SMPL", "COPY", "PAIR", "PSUS", "PSUE", "SSUS", "SSWS", "PFUL", "PFUS"}));
  wait->add_option("--timeout", options.timeout_s,
                   "give up after this many seconds (exit 5); default: never")
      ->check(CLI::NonNegativeNumber);
  wait->add_flag("--progress", options.progress, "draw a progress bar on a terminal");
  CLI::App* verify = commands.verify =
      app.add_subcommand("verify", "compare both copies region by region: verify NAME");
  verify->add_option("NAME", options.name, "volume name")->required();
}

// cluster status/unfence and keygen.
void AddClusterAndKeyCommands(CLI::App& app, Options& options, Commands& commands) {
  CLI::App* cluster =
      app.add_subcommand("cluster", "clusterd's view; the operator's unfence and takeover");
  cluster->require_subcommand(1);
  commands.cluster_status =
      cluster->add_subcommand("status", "state, peer, heartbeat links, reservation");
  commands.cluster_unfence =
      cluster->add_subcommand("unfence", "lift FENCED: the managed copies take writes again");
  CLI::App* takeover = commands.cluster_takeover = cluster->add_subcommand(
      "takeover", "the survivor carries on without the lost site: cluster takeover --force");
  takeover->add_flag("--force", options.force,
                     "required: the other site is down (refused while it is heard)");
  // pairctl events [--now] (issue 15)
  commands.events = app.add_subcommand(
      "events", "a stream of state changes, one line per event (--json: one object per line)");
  commands.events->add_flag("--now", commands.events_now,
                            "print the current state as events and exit");
  CLI::App* keygen = commands.keygen = app.add_subcommand(
      "keygen", "write a CURVE key pair for [security]: keygen SITE [--dir DIR]");
  keygen
      ->add_option("SITE", options.name, "the site the keys are for: writes SITE.key and SITE.pub")
      ->required();
  keygen->add_option("--dir", options.key_dir,
                     "where to write them (default: the current directory)");
}

// volume create/delete/list/resize and display; -1 when none of them was given.
int RunVolumeCommand(const Config& c, const Options& options, const Commands& commands,
                     uint64_t size) {
  const bool json = options.json;
  if (commands.volume_create->parsed()) {
    return Run(c, wire::VolumeCreateRequest{options.name, size}, [&](const wire::Reply& r) {
      if (json) return PrintJson(VolumeListJson(r.volumes.at(0)));
      std::cout << "volume " << options.name << " created, " << FormatSize(size) << "\n";
    });
  }
  if (commands.volume_delete->parsed()) {
    return Run(c, wire::VolumeDeleteRequest{options.name}, [&](const wire::Reply&) {
      if (json) return PrintJson({{"name", options.name}, {"deleted", true}});
      std::cout << "volume " << options.name << " deleted\n";
    });
  }
  if (commands.volume_list->parsed()) {
    return Run(c, wire::VolumeListRequest{}, [&](const wire::Reply& r) {
      if (!json) return void(std::cout << VolumeListTable(r.volumes));
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (const auto& v : r.volumes) rows.push_back(VolumeListJson(v));
      PrintJson(rows);
    });
  }
  if (commands.volume_resize->parsed()) {
    return Run(c, wire::VolumeResizeRequest{options.name, size}, [&](const wire::Reply& r) {
      if (json) return PrintJson(VolumeListJson(r.volumes.at(0)));
      std::cout << "volume " << options.name << " is " << FormatSize(size) << "\n";
    });
  }
  if (commands.display->parsed()) {
    return Run(c, wire::DisplayRequest{options.name, "", options.group}, [&](const wire::Reply& r) {
      if (!json) return void(std::cout << DisplayTable(r.volumes));
      nlohmann::ordered_json rows = nlohmann::ordered_json::array();
      for (const auto& v : r.volumes) rows.push_back(DisplayJson(v));
      PrintJson(rows);
    });
  }
  return -1;
}

// create, split, resync, takeover, dissolve; -1 when none of them was given.
int RunPairCommand(const Config& c, const Options& options, const Commands& commands) {
  auto run_pair = [&](const auto& request, const char* what) {
    return Run(c, request, [&](const wire::Reply& r) { PrintPairOutcome(r, options.json, what); });
  };
  if (commands.pair_create->parsed()) {
    return run_pair(wire::PairCreateRequest{options.name, options.mode, options.peer_volume,
                                            options.fence, options.group},
                    "created pair");
  }
  const std::string& group = options.group;
  if (commands.split->parsed()) {
    const wire::SplitRequest request{options.name, options.read_write, group};
    return group.empty() ? run_pair(request, "split") : RunGroup(c, request, options, "split");
  }
  if (commands.resync->parsed()) {
    const wire::ResyncRequest request{options.name, options.swap, group};
    return group.empty() ? run_pair(request, "resync") : RunGroup(c, request, options, "resync");
  }
  if (commands.takeover->parsed()) {
    const wire::TakeoverRequest request{options.name, options.force, false, false, group};
    return group.empty() ? run_pair(request, "takeover")
                         : RunGroup(c, request, options, "takeover");
  }
  if (commands.dissolve->parsed())
    return run_pair(wire::DissolveRequest{options.name}, "dissolved");
  return -1;
}

// cluster takeover --force (ops, issue 15): what clusterd did and what may be lost, then its view.
int RunClusterTakeover(const Config& c, const Options& options) {
  Result<wire::Reply> reply = Ask(c, wire::ClusterTakeoverRequest{c.site.name, options.force},
                                  ClusterdEndpoint(c), "clusterd", ClusterTakeoverTimeoutMs(c));
  if (!reply.ok()) return Fail(reply.status());
  if (!reply->ToStatus().ok()) return Fail(reply->ToStatus());
  if (options.json) {
    nlohmann::ordered_json document = ClusterJson(reply->cluster);
    document["takeover"] = reply->message;
    return PrintJson(document), 0;
  }
  std::cout << reply->message << "\n" << ClusterText(reply->cluster);
  return 0;
}

// cluster status/unfence/takeover: asked of clusterd, not of the node.
int RunClusterCommand(const Config& c, const Options& options, bool unfence, bool takeover) {
  if (!c.cluster.present)
    return Fail(Status::InvalidArgument(c.path + " has no [cluster] table: no clusterd here"));
  if (takeover) return RunClusterTakeover(c, options);
  Result<wire::Reply> reply =
      unfence ? Ask(c, wire::ClusterUnfenceRequest{c.site.name}, ClusterdEndpoint(c), "clusterd")
              : Ask(c, wire::ClusterStatusRequest{c.site.name}, ClusterdEndpoint(c), "clusterd");
  if (!reply.ok()) return Fail(reply.status());
  if (!reply->ToStatus().ok()) return Fail(reply->ToStatus());
  if (options.json) return PrintJson(ClusterJson(reply->cluster)), 0;
  if (unfence) std::cout << "unfenced\n";
  std::cout << ClusterText(reply->cluster);
  return 0;
}

// reserve or release.
int RunReservation(const Config& c, const Options& options, bool reserving) {
  auto print_reservation = [&](const wire::Reply& r) {
    if (options.json) return PrintJson(DisplayJson(r.volumes.at(0)));
    const std::string& holder = r.volumes.at(0).reserved_by;
    if (holder.empty()) {
      std::cout << "volume " << options.name << " is not reserved\n";
    } else {
      std::cout << "volume " << options.name << " is reserved by site " << holder << "\n";
    }
  };
  if (reserving)
    return Run(c, wire::ReserveRequest{options.name, options.holder}, print_reservation);
  return Run(c, wire::ReleaseRequest{options.name, options.holder}, print_reservation);
}

// Runs the one command given, with the site's config.
int RunCommand(const Config& c, const Options& options, const Commands& commands, uint64_t size) {
  if (int code = RunVolumeCommand(c, options, commands, size); code >= 0) return code;
  if (int code = RunPairCommand(c, options, commands); code >= 0) return code;
  if (commands.wait->parsed()) return Wait(c, options);
  if (commands.cluster_status->parsed() || commands.cluster_unfence->parsed() ||
      commands.cluster_takeover->parsed()) {
    return RunClusterCommand(c, options, commands.cluster_unfence->parsed(),
                             commands.cluster_takeover->parsed());
  }
  if (commands.verify->parsed()) return Verify(c, options);
  if (commands.events->parsed()) return Events(c, options, commands.events_now);  // ops
  return RunReservation(c, options, commands.reserve->parsed());
}

// split, resync, takeover and wait act on one pair NAME or on every pair of --group G: exactly one
// of them; display takes at most one. The usage error, or "" when the command line is right.
std::string NameOrGroupUsage(const Options& options, const Commands& commands) {
  const bool both = !options.name.empty() && !options.group.empty();
  const bool neither = options.name.empty() && options.group.empty();
  for (const auto& [command, verb] : {std::pair{commands.split, "split"},
                                      {commands.resync, "resync"},
                                      {commands.takeover, "takeover"},
                                      {commands.wait, "wait"},
                                      {commands.display, "display"}}) {
    if (!command->parsed()) continue;
    if (both) return std::string(verb) + ": give a volume NAME or --group G, not both";
    if (neither && command != commands.display)
      return std::string(verb) + ": give a volume NAME or --group G";
  }
  return "";
}

// The options that come before any command: --version, --config, --json and --site.
void AddGlobalOptions(CLI::App& app, Options& options) {
  app.set_version_flag("--version",
                       "pairctl 0.1 (protocol " + std::to_string(wire::kProtocolVersion) + ")");
  app.add_option("-c,--config", options.config_flag,
                 "config file (default $PAIRFS_CONFIG or /etc/pairfs/pairfs.toml)");
  app.add_flag("--json", options.json, "print JSON instead of a table");
  app.add_option("--site", options.site,
                 "run the command at SITE's node, carried there by this site's node "
                 "(volume and pair commands; default: this site)");
}

// Carries the requests to the site --site names; a cluster command asks this site's clusterd,
// which carries nothing, so it may name only this site. False, with the usage error printed,
// for a site that cannot be asked.
bool SetCarrySiteOption(const Options& options, const Commands& commands, const Config& config) {
  const bool asks_clusterd = commands.cluster_status->parsed() ||
                             commands.cluster_unfence->parsed() ||
                             commands.cluster_takeover->parsed();
  Result<std::string> carry_to =
      CarrySiteFor(options.site, config.site.name, "cluster", !asks_clusterd);
  if (!carry_to.ok()) {
    std::cerr << "pairctl: " << carry_to.status().message() << "\n";
    return false;
  }
  SetCarrySite(carry_to.value());
  return true;
}

}  // namespace

int Main(int argc, char** argv) {
  Options options;
  Commands commands;
  CLI::App app{"pairctl: paired volume control for pairfs (see pairctl(8))", "pairctl"};
  AddGlobalOptions(app, options);
  app.require_subcommand(1);
  AddVolumeCommands(app, options, commands);
  AddPairCommands(app, options, commands);
  AddClusterAndKeyCommands(app, options, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "pairctl: " << e.what() << "\n"
              << "Run 'pairctl --help' for usage.\n";
    return kExitUsage;
  }

  if (commands.cluster_takeover->parsed() && !options.force) {
    std::cerr << "pairctl: cluster takeover needs --force: this site carries on without the other "
                 "one, which must be down (see clusterd(8), FAILURE SCENARIOS)\n";
    return kExitUsage;
  }
  if (std::string usage = NameOrGroupUsage(options, commands); !usage.empty()) {
    std::cerr << "pairctl: " << usage << "\n"
              << "Run 'pairctl --help' for usage.\n";
    return kExitUsage;
  }
  Result<uint64_t> size = uint64_t{0};
  if (commands.volume_create->parsed() || commands.volume_resize->parsed()) {
    size = node::ParseVolumeSize(options.size);
    if (!size.ok()) {
      std::cerr << "pairctl: " << size.status().message() << "\n";
      return kExitUsage;
    }
  }
  const bool site_given = app.count("--site") > 0;
  if (commands.keygen->parsed() && site_given) {
    std::cerr << "pairctl: --site: keygen asks no node (it writes key files here); run it at "
                 "the site instead\n";
    return kExitUsage;
  }
  if (commands.keygen->parsed()) return Keygen(options);
  if (commands.events->parsed() && site_given) {  // ops (issue 15 part 1)
    std::cerr << "pairctl: --site: events follows this site's node and clusterd; run it at the "
                 "other site to follow that one\n";
    return kExitUsage;
  }
  Result<Config> config = node::LoadConfig(node::ResolveConfigPath(options.config_flag));
  if (!config.ok()) return Fail(config.status());
  if (site_given && !SetCarrySiteOption(options, commands, config.value())) return kExitUsage;
  return RunCommand(config.value(), options, commands, size.value());
}

}  // namespace pairfs::pairctl

int main(int argc, char** argv) { return pairfs::pairctl::Main(argc, argv); }
