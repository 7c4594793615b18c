// A Java program writing a cron file: `java`, its frames JIT or interpreter
// code whose executable memory libjvm made (provenance), not shellcode.
import java.nio.file.Files;
import java.nio.file.Path;

public class W {
    public static void main(String[] a) throws Exception {
        Files.writeString(Path.of(a[0]), "# modus live test (java)\n");
        Thread.sleep(200);
    }
}
