# nembed umap / nembed cne: bad parameters end with one "nembed: error:" line and a non-zero exit; a small run
# writes the embedding, timings and metrics.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
file(MAKE_DIRECTORY ${WORK})
set(D ${CMAKE_CURRENT_LIST_DIR}/../data)
set(X ${D}/fmnist_4000_pca50.npy)
foreach(args "umap;${X};-o;${WORK}/u.npy;--min-dist;5;--quiet"
             "umap;${X};-o;${WORK}/u.npy;--n-neighbors;1"
             "umap;${X};-o;${WORK}/u.npy;--init;tsne"
             "umap;${X};-o;${WORK}/u.npy;--supervised"
             "umap;${X};-o;${WORK}/u.npy;--target;${D}/fmnist_4000_labels.npy;--target-metric;hamming"
             "umap;${X};-o;${WORK}/u.npy;--target;${D}/cne_graph_X.npy"
             "umap;${X};-o;${WORK}/u.npy;--target;${D}/fmnist_4000_labels.npy;--target-weight;2"
             "umap;${X};-o;${WORK}/u.npy;--output-metric;haversine;--n-components;3"
             "umap;${X};-o;${WORK}/u.npy;--output-metric;mahalanobis"
             "umap;${X};-o;${WORK}/u.npy;--output-metric;minkowski;--output-metric-p;0"
             "umap;${X};-o;${WORK}/u.npy;--edge-order;sideways"
             "cne;${X};-o;${WORK}/c.npy;--loss;contrastive;--quiet"
             "cne;${X};-o;${WORK}/c.npy;--loss;neg;--s;0.5;-m;0"
             "cne;${X};-o;${WORK}/c.npy;--optimizer;rmsprop"
             "cne;${X};-o;${WORK}/c.npy;--s;abc"
             "cne;${X};-o;${WORK}/c.npy;--graph;${D}/cne_graph_ring.npz"
             "cne;${X};-o;${WORK}/c.npy;--graph;${D}/io_small.npz")
  expect_one_error_line("${args}")
endforeach()
# small successful runs (first 4000 points, few epochs)
foreach(args "umap;${X};-o;${WORK}/u.npy;--n-epochs;20;-j;2;--labels;${D}/fmnist_4000_labels.npy;--timings;${WORK}/u.json;--metrics;${WORK}/um.json;--quiet"
             "umap;${X};-o;${WORK}/uh.npy;--n-epochs;10;--output-metric;haversine;--transform;${X};--transform-output;${WORK}/uht.npy;--save-model;${WORK}/mh;--quiet"
             "transform;${X};-m;${WORK}/mh;-o;${WORK}/uhm.npy;--quiet"
             "cne;${X};-o;${WORK}/c.npy;--loss;neg;--s;0.5;--n-epochs;5;--batch-size;4096;-j;2;--timings;${WORK}/c.json;--quiet"
             "cne;${D}/cne_graph_X.npy;-o;${WORK}/cg.npy;--graph;${D}/cne_graph_ring.npz;--n-epochs;20;--batch-size;8;--quiet")
  execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "'${args}' failed:\n${err}")
  endif()
endforeach()
foreach(f u.npy u.json um.json uh.npy uht.npy uhm.npy mh/model.json c.npy c.json cg.npy)
  if(NOT EXISTS ${WORK}/${f})
    message(FATAL_ERROR "${f} was not written")
  endif()
endforeach()
# the saved model records the output metric, and its transform lays out in it: the same bits as --transform
file(READ ${WORK}/mh/model.json mh_json)
if(NOT mh_json MATCHES "\"output_metric\": \"haversine\"")
  message(FATAL_ERROR "model.json does not record the output metric haversine")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/uht.npy ${WORK}/uhm.npy RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "nembed transform -m (haversine model) differs from umap --transform")
endif()
file(READ ${WORK}/um.json metrics)
if(NOT metrics MATCHES "knn_accuracy")
  message(FATAL_ERROR "metrics JSON lacks knn_accuracy: ${metrics}")
endif()

# supervised UMAP (--supervised: the labels are the target) separates the classes better than the unsupervised run
foreach(run "us;--n-epochs;50" "sup;--n-epochs;50;--supervised;--target-weight;0.8")
  list(GET run 0 name)
  list(SUBLIST run 1 -1 extra)
  execute_process(COMMAND ${EXE} umap ${X} -o ${WORK}/${name}.npy -j 2 --labels ${D}/fmnist_4000_labels.npy
                          --metrics ${WORK}/${name}.json --quiet ${extra} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "umap ${run} failed:\n${err}")
  endif()
  file(READ ${WORK}/${name}.json j)
  string(JSON acc_${name} GET "${j}" knn_accuracy)
endforeach()
if(acc_sup LESS_EQUAL acc_us OR acc_sup LESS 0.9)
  message(FATAL_ERROR "supervised UMAP kNN accuracy ${acc_sup} (unsupervised ${acc_us}): expected > 0.9 and higher")
endif()
message(STATUS "kNN accuracy: unsupervised ${acc_us}, supervised ${acc_sup}")
