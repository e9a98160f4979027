package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** Which lines the TensorFlow log filter drops: Abseil's info and warning lines, nothing else. */
class TensorFlowLogTest {
  @Test
  void dropsAbseilInfoAndWarningLines() {
    assertTrue(TensorFlowLog.dropped("WARNING: All log messages before absl::InitializeLog() is called are written to"
        + " STDERR\n"));
    assertTrue(TensorFlowLog.dropped("I0000 00:00:1796412395.830832   14135 mlir_graph_optimization_pass.cc:401] MLIR V1"
        + " optimization pass is not enabled\n"));
    assertTrue(TensorFlowLog.dropped("W1204 19:27:29.509518    7 port.cc:153] oneDNN custom operations are on.\n"));
  }

  @Test
  void keepsErrorsAndEverythingElse() {
    assertFalse(TensorFlowLog.dropped("E1204 19:27:29.509518    7 session.cc:10] Out of memory\n"));
    assertFalse(TensorFlowLog.dropped("F1204 19:27:29.509518    7 check.cc:10] Check failed\n"));
    assertFalse(TensorFlowLog.dropped("epoch 1/8  steps 937  lr 1.00e-03  loss 0.4\n"));
    assertFalse(TensorFlowLog.dropped("Index written to out.dhx\n"));
    assertFalse(TensorFlowLog.dropped("WARNING: Using incubator modules: jdk.incubator.vector\n"));
    assertFalse(TensorFlowLog.dropped("I0000 is not a log line\n"));
  }
}
