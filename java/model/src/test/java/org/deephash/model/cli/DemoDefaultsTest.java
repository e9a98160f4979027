package org.deephash.model.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deephash.model.net.TrainOptions;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** demo trains with the documented recipe (14 epochs, decay 0.8) unless told; train keeps its own defaults. */
class DemoDefaultsTest {
  @Test
  void demoDefaultsToTheRecipeAndTrainKeepsItsDefaults() {
    DemoCommand demo = new DemoCommand();
    new CommandLine(demo).parseArgs();
    assertEquals(14, demo.train.epochs);
    assertEquals(0.8f, demo.train.lrDecay);

    DemoCommand told = new DemoCommand();
    new CommandLine(told).parseArgs("--epochs", "3", "--lr-decay", "0.5");
    assertEquals(3, told.train.epochs);
    assertEquals(0.5f, told.train.lrDecay);

    TrainCommand train = new TrainCommand();
    new CommandLine(train).parseArgs("--model", "m");
    assertEquals(TrainOptions.defaults().epochs(), train.train.epochs);
    assertEquals(TrainOptions.defaults().lrDecay(), train.train.lrDecay);

    String help = new CommandLine(new DemoCommand()).getUsageMessage();
    assertTrue(help.contains("(default: 14)"), help);
  }
}
