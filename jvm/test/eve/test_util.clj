(ns eve.test-util
  "Helpers of the eve JVM test suites."
  (:require [clojure.java.io :as io]
            [clojure.string :as str])
  (:import [java.io File]
           [java.nio.file Files]
           [java.nio.file.attribute FileAttribute]))

(def ^:dynamic *dir* nil)

(defn tmp-dir ^File []
  (.toFile (Files/createTempDirectory "eve-jvm-test" (make-array FileAttribute 0))))

(defn delete-tree [^File f]
  (when (.isDirectory f)
    (doseq [c (.listFiles f)] (delete-tree c)))
  (.delete f))

(defn with-tmp-dir
  "clojure.test fixture: *dir* is a fresh directory, removed afterwards."
  [f]
  (let [d (tmp-dir)]
    (try (binding [*dir* d] (f))
         (finally (delete-tree d)))))

(defn path
  "A file name in *dir*."
  [name]
  (str (io/file *dir* name)))

(defn jvm-command
  "The command that runs namespace ns's -main in a new JVM with this JVM's
  classpath and native library path."
  [ns & args]
  (into [(str (System/getProperty "java.home") "/bin/java")
         "-Xmx128m" "-XX:TieredStopAtLevel=1" "-XX:+UseSerialGC"
         (str "-Djava.library.path=" (System/getProperty "java.library.path"))
         "-cp" (System/getProperty "java.class.path")
         "clojure.main" "-m" (str ns)]
        (map str args)))

(defn start
  "Start a process (argv a sequence of strings); output to this process's."
  ^Process [argv]
  (-> (ProcessBuilder. ^java.util.List (vec argv))
      (.inheritIO)
      (.start)))

(defn run-out
  "Run argv to completion; [exit-code stdout]."
  [argv]
  (let [p (-> (ProcessBuilder. ^java.util.List (vec argv))
              (.redirectError java.lang.ProcessBuilder$Redirect/INHERIT)
              (.start))
        out (slurp (.getInputStream p))]
    [(.waitFor p) (str/trim out)]))

(defn env-exe
  "The executable the environment variable names, or nil."
  [var]
  (let [p (System/getenv var)]
    (when (and p (.canExecute (io/file p))) p)))

(defn rss-kb
  "This process's resident set size in KiB (Linux)."
  []
  (let [line (->> (Files/readAllLines (.toPath (io/file "/proc/self/status")))
                  (filter #(str/starts-with? % "VmRSS:"))
                  first)]
    (Long/parseLong (re-find #"\d+" line))))

(defn heap-used []
  (let [rt (Runtime/getRuntime)]
    (- (.totalMemory rt) (.freeMemory rt))))
