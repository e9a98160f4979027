package org.deephash.spark;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.deephash.io.Json;

/**
 * What one executor searched with: the backend and device its tasks used, the GPU addresses Spark
 * gave them, and why the CUDA backend did not run there. The same facts as the executor's own log
 * line ({@link SparkSearch#EXECUTOR_LOG}), gathered on the driver from the task reports.
 *
 * @param executorId Spark's executor id
 * @param host its host
 * @param backend the backend its tasks used (several, comma-separated, if they differed)
 * @param device the device the backend reported (likewise)
 * @param gpuAddresses every GPU address Spark assigned to its tasks, in order
 * @param cudaSkipped why CUDA did not search there, or null when it did
 * @param taskAttempts completed task attempts on it
 */
public record ExecutorReport(String executorId, String host, String backend, String device,
    List<String> gpuAddresses, String cudaSkipped, int taskAttempts) {

  /** One report per executor, ordered by executor id (numerically where the ids are numbers). */
  static List<ExecutorReport> of(List<TaskReport> tasks) {
    Map<String, List<TaskReport>> byExecutor = new TreeMap<>(ExecutorReport::compareIds);
    for (TaskReport t : tasks) {
      byExecutor.computeIfAbsent(t.executorId(), x -> new ArrayList<>()).add(t);
    }
    List<ExecutorReport> out = new ArrayList<>();
    for (Map.Entry<String, List<TaskReport>> e : byExecutor.entrySet()) {
      List<TaskReport> ts = e.getValue();
      TreeSet<String> gpus = new TreeSet<>(ExecutorReport::compareIds);
      ts.forEach(t -> gpus.addAll(t.gpuAddresses()));
      out.add(new ExecutorReport(e.getKey(), ts.get(0).host(), distinct(ts, TaskReport::backend),
          distinct(ts, TaskReport::device), List.copyOf(gpus), distinct(ts, TaskReport::cudaSkipped), ts.size()));
    }
    return out;
  }

  private static String distinct(List<TaskReport> ts, java.util.function.Function<TaskReport, String> f) {
    LinkedHashMap<String, Boolean> seen = new LinkedHashMap<>();
    for (TaskReport t : ts) {
      String v = f.apply(t);
      if (v != null) {
        seen.put(v, true);
      }
    }
    return seen.isEmpty() ? null : String.join(", ", seen.keySet());
  }

  private static int compareIds(String a, String b) {
    boolean na = a.chars().allMatch(Character::isDigit) && !a.isEmpty() && a.length() < 10;
    boolean nb = b.chars().allMatch(Character::isDigit) && !b.isEmpty() && b.length() < 10;
    if (na && nb) {
      return Integer.compare(Integer.parseInt(a), Integer.parseInt(b));
    }
    return na != nb ? (na ? -1 : 1) : a.compareTo(b);
  }

  /** The line the driver prints for it (the executor logs the same facts). */
  String line() {
    return SparkSearch.executorLine(executorId, host, backend, device, gpuAddresses, cudaSkipped);
  }

  /** For the job's JSON report. */
  Json json() {
    return new Json().put("id", executorId).put("host", host).put("backend", backend).put("device", device)
        .put("gpus", gpuAddresses).put("cuda_skipped", cudaSkipped).put("task_attempts", taskAttempts);
  }
}
