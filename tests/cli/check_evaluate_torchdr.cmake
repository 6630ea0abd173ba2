# nembed evaluate with TorchDR's scores: the JSON keeps its fields and gains silhouette, kmeans_ari,
# knn_label_accuracy and neighborhood_preservation; neighbourhood preservation on all points is kNN recall when
# --max-points covers every point. Run with -DEXE=<nembed> -DWORK=<dir>.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
set(D ${CMAKE_CURRENT_LIST_DIR}/../data)
execute_process(COMMAND ${EXE} evaluate ${D}/sensitivity_X.csv -e ${D}/sensitivity_Y.csv -l ${WORK}/labels.csv
                RESULT_VARIABLE rc ERROR_VARIABLE err)  # labels missing: fails
if(rc EQUAL 0)
  message(FATAL_ERROR "evaluate with a missing label file succeeded")
endif()
set(labels "")
foreach(i RANGE 0 29)
  math(EXPR c "${i} % 3")
  string(APPEND labels "${c}\n")
endforeach()
file(WRITE ${WORK}/labels.csv "${labels}")
foreach(j 1 2)
  execute_process(COMMAND ${EXE} evaluate ${D}/sensitivity_X.csv -e ${D}/sensitivity_Y.csv -l ${WORK}/labels.csv
                          -k 5 --silhouette --kmeans-ari --knn-label-accuracy --neighborhood-preservation 5 -j ${j}
                          -q -o ${WORK}/E${j}.json
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "evaluate -j ${j} failed:\n${err}")
  endif()
endforeach()
file(READ ${WORK}/E1.json j1)
file(READ ${WORK}/E2.json j2)
if(NOT j1 STREQUAL j2)
  message(FATAL_ERROR "evaluate -j 1 and -j 2 differ:\n${j1}\n${j2}")
endif()
foreach(key knn_recall trustworthiness distance_spearman knn_accuracy silhouette kmeans_ari knn_label_accuracy
            neighborhood_preservation)
  string(JSON v ERROR_VARIABLE e GET "${j1}" ${key})
  if(e OR NOT v MATCHES "^-?[0-9]")
    message(FATAL_ERROR "evaluate JSON lacks a numeric '${key}':\n${j1}")
  endif()
endforeach()
string(JSON recall GET "${j1}" knn_recall)
string(JSON np GET "${j1}" neighborhood_preservation)
if(NOT recall STREQUAL np)
  message(FATAL_ERROR "neighborhood_preservation ${np} != knn_recall ${recall} on all points")
endif()
