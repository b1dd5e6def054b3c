(ns eve.concurrency-test
  "Exact counts under contention: JVM threads, JVM processes, and the eve
  CLI (EVE_CLI), the C writer (EVE_C_COUNTER), a JVM process, this JVM and,
  given EVE_PYTHON, Python processes swapping one atom at once (skipped
  without EVE_CLI and EVE_C_COUNTER)."
  (:require [clojure.test :refer [deftest is testing use-fixtures]]
            [eve.core :as eve]
            [eve.test-util :as u]))

(use-fixtures :each u/with-tmp-dir)

(def increments 10000)

(deftest eight-threads-increment-exactly
  (let [a (eve/atom {:id ::threads :persistent (u/path "c.eve")} 0)
        threads (doall (for [_ (range 8)]
                         (doto (Thread. (fn [] (dotimes [_ increments] (swap! a inc))))
                           (.start))))]
    (doseq [^Thread t threads] (.join t))
    (is (= (* 8 increments) @a))
    (testing "and a map updated by threads, key by key"
      (let [m (eve/atom {:id ::map :persistent (u/path "c.eve")} {})
            threads (doall (for [i (range 8)]
                             (doto (Thread. (fn [] (dotimes [j 500]
                                                     (swap! m update i (fnil conj []) j))))
                               (.start))))]
        (doseq [^Thread t threads] (.join t))
        (is (= (into {} (for [i (range 8)] [i (vec (range 500))])) @m))))
    (is (zero? (.check (.domain a))))))

(deftest four-processes-increment-exactly
  (let [file (u/path "p.eve")
        a (eve/atom {:id "counter" :persistent file} 0)
        procs (doall (for [_ (range 4)]
                       (u/start (u/jvm-command 'eve.worker file "counter" increments))))]
    (is (= [0 0 0 0] (mapv #(.waitFor ^Process %) procs)))
    (is (= (* 4 increments) @a))
    (is (zero? (.check (.domain a))))))

(defn- python
  "EVE_PYTHON, when it names a Python that imports eve (make test's
  build-python/venv), else nil."
  []
  (when-let [py (u/env-exe "EVE_PYTHON")]
    (when (zero? (first (u/run-out [py "-c" "import eve"]))) py)))

(def py-script (str (System/getProperty "user.dir") "/jvm/test/python/eve_py_counter.py"))

(deftest cli-c-and-jvm-swap-one-counter-exactly
  (let [cli (u/env-exe "EVE_CLI")
        c-counter (u/env-exe "EVE_C_COUNTER")]
    (if-not (and cli c-counter)
      (println "   skipped: EVE_CLI (the eve tool) or EVE_C_COUNTER (eve-counter) not given")
      (let [file (u/path "x.eve")
            a (eve/atom {:id "counter" :persistent file} 0)
            c-writers (doall (for [_ (range 2)] (u/start [c-counter file "counter" "5000"])))
            jvm (u/start (u/jvm-command 'eve.worker file "counter" 5000))
            ;; Python processes too, when a Python with eve is given
            py (python)
            pys (when py (doall (for [_ (range 2)] (u/start [py py-script file "counter" "2000"]))))
            cli-runs (future (dotimes [_ 150]
                               (let [[rc _] (u/run-out [cli "swap" file "counter" "inc"])]
                                 (when-not (zero? rc) (throw (ex-info "eve swap failed" {:rc rc}))))))
            local (future (dotimes [_ 3000] (swap! a inc)))]
        (is (= [0 0] (mapv #(.waitFor ^Process %) c-writers)))
        (is (= 0 (.waitFor ^Process jvm)))
        (is (every? zero? (map #(.waitFor ^Process %) pys)))
        @cli-runs
        @local
        (let [expected (+ (* 2 5000) 5000 150 3000 (* 2000 (count pys)))]
          (is (= expected @a))
          (is (= [0 (str expected)] (u/run-out [cli "get" file "counter"]))))
        (testing "the JVM reads what the CLI wrote"
          (u/run-out [cli "set" file "m" "{:a [1 2 #{3}] \"s\" \"text\" :u #uuid \"00000000-0000-0000-0000-000000000001\" :l (1 2)}"])
          (is (= {:a [1 2 #{3}] "s" "text" :u #uuid "00000000-0000-0000-0000-000000000001" :l '(1 2)}
                 @(eve/atom {:id "m" :persistent file}))))
        (testing "and the CLI what the JVM wrote"
          (reset! (eve/atom {:id "j" :persistent file}) {:k [1 2.5 "x"] :i #inst "2020-01-02T03:04:05.006-00:00"})
          (is (= {:k [1 2.5 "x"] :i #inst "2020-01-02T03:04:05.006-00:00"}
                 (read-string (second (u/run-out [cli "get" file "j"]))))))))))

(deftest python-and-jvm-swap-one-counter-exactly
  (if-let [py (python)]
    (let [file (u/path "py.eve")
          a (eve/atom {:id "counter" :persistent file} 0)
          pys (doall (for [_ (range 2)] (u/start [py py-script file "counter" "3000"])))
          jvm (u/start (u/jvm-command 'eve.worker file "counter" 3000))
          local (future (dotimes [_ 3000] (swap! a inc)))]
      (is (= [0 0] (mapv #(.waitFor ^Process %) pys)))
      (is (= 0 (.waitFor ^Process jvm)))
      @local
      (is (= (* 4 3000) @a))
      (testing "values cross: Python writes, the JVM reads"
        (is (= 0 (first (u/run-out [py py-script file "m" "write"]))))
        (is (= {:from "python" "v" [1 2.5 nil true] :u #uuid "00000000-0000-0000-0000-000000000007" "s" #{:x}}
               @(eve/atom {:id "m" :persistent file})))))
    (println "   skipped: EVE_PYTHON (a Python with the eve package) not given")))

(deftest one-view-read-by-many-threads
  (let [a (eve/atom {:id ::shared-view :persistent (u/path "c.eve")}
                    (into {} (for [i (range 200)] [i (vec (range i))])))
        v @a
        want (into {} (for [i (range 200)] [i (vec (range i))]))
        results (doall (for [_ (range 4)]
                         (future (every? true? (for [_ (range 50)]
                                                 (and (= want v) (= (hash want) (hash v))
                                                      (= 199 (count (get v 199)))))))))]
    (is (every? true? (map deref results)))
    (swap! a assoc 0 :changed)
    (is (= want v) "the view still reads its version")))
