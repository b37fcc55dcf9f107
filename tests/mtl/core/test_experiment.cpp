// The experiment runner: every architecture builds and trains on each benchmark's backbone, STL baselines give
// the Δm% column, and bad configurations are rejected before any training.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <tandem.h>

using namespace tandem;

TEST(MtlExperiment, EveryArchitectureRunsOnTheSyntheticBenchmarks) {
  auto archs = mtl::architecture_names();
  archs.erase(std::find(archs.begin(), archs.end(), "soft"));  // no shared parameters for pcgrad: see below
  for (const std::string data : {"mmoe-synthetic", "gradnorm-synthetic"}) {
    if (data == "gradnorm-synthetic") archs = {"hps", "mmoe"};  // the same builders; keep the test quick
    auto config = mtl::ExperimentConfig()
                      .data(data)
                      .architectures(archs)
                      .weightings({"ew", "pcgrad"})
                      .train_size(64)
                      .test_size(32)
                      .epochs(1)
                      .batch_size(32)
                      .verbose(false);
    std::ostringstream out;
    auto table = mtl::run_experiment(config, out);
    const auto rows = table.rows();
    ASSERT_EQ(rows.size(), 1 + 2 * archs.size()) << data;
    EXPECT_EQ(rows[0], "stl");
    EXPECT_TRUE(table.has_row("mmoe + pcgrad"));
    EXPECT_TRUE(table.delta_m_cell("hps + ew").has_value());
  }
}

TEST(MtlExperiment, WritesTheTableAndOneLogPerRun) {
  auto dir = std::filesystem::temp_directory_path() / "tandem_mtl_experiment";
  std::filesystem::remove_all(dir);
  auto config = mtl::ExperimentConfig()
                    .data("mmoe-synthetic")
                    .architectures({"hps"})
                    .weightings({"ew", "cagrad:c=0.2"})
                    .train_size(64)
                    .test_size(32)
                    .epochs(2)
                    .seeds(2)
                    .verbose(false)
                    .out_dir(dir.string());
  std::ostringstream out;
  auto table = mtl::run_experiment(config, out);
  EXPECT_EQ(table.cell("hps + ew", 0).count, 2u);  // two seeds
  EXPECT_TRUE(std::filesystem::exists(dir / "results.md"));
  EXPECT_TRUE(std::filesystem::exists(dir / "results.csv"));
  EXPECT_TRUE(std::filesystem::exists(dir / "hps_cagrad_c_0.2_seed1.jsonl"));
  EXPECT_TRUE(std::filesystem::exists(dir / "stl_task1_seed0.jsonl"));
}

TEST(MtlExperiment, BadConfigurationsAreRejectedUpFront) {
  std::ostringstream out;
  auto base = mtl::ExperimentConfig().data("mmoe-synthetic").train_size(16).test_size(8).epochs(1).verbose(false);
  EXPECT_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).architectures({"resnet"}), out), Error);
  EXPECT_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).weightings({"no_such"}), out), Error);
  EXPECT_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).data("imagenet"), out), Error);
  EXPECT_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).seeds(0), out), Error);
  // Soft sharing has no shared parameters: gradient methods do not apply; loss-level ones do.
  EXPECT_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).architectures({"soft"}).weightings({"mgda"}), out),
               Error);
  EXPECT_NO_THROW(mtl::run_experiment(mtl::ExperimentConfig(base).architectures({"soft"}).weightings({"uw"}), out));
}

TEST(MtlExperiment, MultiFashionBackboneBuildsEveryArchitecture) {
  if (!std::filesystem::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto config = mtl::ExperimentConfig().train_size(16).test_size(8).epochs(1).batch_size(16).verbose(false).stl(false);
  auto bench = mtl::make_benchmark(config, 0);
  for (const auto& arch : mtl::architecture_names()) {
    auto model = bench.make_model(arch, {0, 1});
    auto out = model->forward(bench.train.inputs.narrow(0, 0, 4));
    ASSERT_EQ(out.size(), 2u) << arch;
    EXPECT_EQ(out[0].sizes(), (Dims{4, 10})) << arch;
  }
}
