package io.kop.standin;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Loads a NAR the way Pulsar's NarClassLoader does: unpack to
 * {@code <extractDir>/pulsar-nar/<file>-unpacked/<md5>/}, put the unpacked root, then
 * {@code META-INF/bundled-dependencies/} and its jars (sorted) on the class path, delegate
 * parent-first, and find native libraries in {@code META-INF/bundled-dependencies/native/}.
 */
final class NarClassLoader extends URLClassLoader {
    private final Path root;

    private NarClassLoader(URL[] urls, ClassLoader parent, Path root) {
        super(urls, parent);
        this.root = root;
    }

    static NarClassLoader open(Path nar, Path extractDir, ClassLoader parent) throws IOException {
        Path root = unpack(nar, extractDir);
        List<URL> urls = new ArrayList<>();
        urls.add(url(root));
        Path deps = root.resolve("META-INF/bundled-dependencies");
        if (Files.isDirectory(deps)) {
            urls.add(url(deps));
            File[] jars = deps.toFile().listFiles((d, n) -> n.endsWith(".jar"));
            if (jars != null) {
                Arrays.sort(jars);
                for (File jar : jars) {
                    urls.add(url(jar.toPath()));
                }
            }
        }
        return new NarClassLoader(urls.toArray(new URL[0]), parent, root);
    }

    Path root() {
        return root;
    }

    @Override
    protected String findLibrary(String name) {
        Path lib = root.resolve("META-INF/bundled-dependencies/native/" + System.mapLibraryName(name));
        return Files.isRegularFile(lib) ? lib.toAbsolutePath().toString() : null;
    }

    private static URL url(Path p) throws MalformedURLException {
        return p.toUri().toURL();
    }

    private static Path unpack(Path nar, Path extractDir) throws IOException {
        String md5;
        try (InputStream in = Files.newInputStream(nar)) {
            MessageDigest digest = MessageDigest.getInstance("MD5");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                digest.update(buf, 0, n);
            }
            md5 = HexFormat.of().formatHex(digest.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IOException(e);
        }
        Path root = extractDir.resolve("pulsar-nar").resolve(nar.getFileName() + "-unpacked").resolve(md5);
        try (ZipFile zip = new ZipFile(nar.toFile())) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry e = entries.nextElement();
                Path target = root.resolve(e.getName()).normalize();
                if (!target.startsWith(root)) {
                    throw new IOException("NAR entry escapes its directory: " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(target);
                } else {
                    Files.createDirectories(target.getParent());
                    try (InputStream in = zip.getInputStream(e)) {
                        Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
        return root;
    }
}
