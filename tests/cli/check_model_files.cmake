# Model directories (io/model.hpp): `nembed transform -m DIR` with a model whose files disagree (issue #19) must end
# in one "nembed: error:" line naming the file and the field, never read out of bounds; `nembed umap --save-model`
# + transform gives the bits of `nembed umap --transform`; a non-parametric cne model is refused clearly, a parametric
# one transforms with its network. WORK is a scratch directory.
include(${CMAKE_CURRENT_LIST_DIR}/error_line.cmake)
set(X ${CMAKE_CURRENT_LIST_DIR}/../data/sensitivity_X.csv)
set(OTHER ${CMAKE_CURRENT_LIST_DIR}/../data/fmnist_4000_labels.npy)
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${EXE} tsne ${X} -o ${WORK}/Y.npy --pca 2 --perplexity 5 --n-iter 10
                        --early-exaggeration-iter 10 --save-model ${WORK}/good -q RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nembed tsne --save-model failed")
endif()
function(expect_model_error name file_to_replace replacement fragment)
  file(COPY ${WORK}/good/ DESTINATION ${WORK}/${name})
  if(file_to_replace STREQUAL "model.json")
    file(WRITE ${WORK}/${name}/model.json "${replacement}")
  else()
    file(COPY_FILE ${replacement} ${WORK}/${name}/${file_to_replace})
  endif()
  set(args transform ${X} -m ${WORK}/${name} -o ${WORK}/${name}_out.npy -q)
  expect_one_error_line("${args}")
  execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
  string(FIND "${err}" "${fragment}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${name}: expected '${fragment}' in:\n${err}")
  endif()
endfunction()
# 4000 x 1 components for a 3-value mean: apply() read past the end of the components before (it indexed them by
# the mean's length).
expect_model_error(components pca_components.npy ${OTHER} "pca_components.npy: has 1 columns but pca_mean.npy has 3 values")
expect_model_error(embedding embedding.npy ${OTHER} "embedding.npy: has 4000 rows but model.json says n_points = 30")
file(READ ${WORK}/good/model.json json)
string(REGEX REPLACE "\"n_interpolation_points\": [0-9]+" "\"n_interpolation_points\": -1" bad_json "${json}")
expect_model_error(interp model.json "${bad_json}" "field 'tsne.n_interpolation_points' must be a non-negative integer")
string(REGEX REPLACE "\"dof\": [0-9.e+-]+" "\"dof\": \"one\"" bad_json "${json}")
expect_model_error(dof model.json "${bad_json}" "model.json: field 'tsne.dof' must be a number, got string")
string(REGEX REPLACE "\"scale\": [0-9.e+-]+" "\"scale\": 0.0" bad_json "${json}")
expect_model_error(scale model.json "${bad_json}" "field 'preprocessing.scale' must be a positive number")
# Valid JSON that is not an object (found by tests/fuzz/fuzz_model: nlohmann's type_error escaped).
expect_model_error(not_object model.json "42" "model.json: not a nembed model")
string(REPLACE "\"version\": 1" "\"version\": 7" bad_json "${json}")
expect_model_error(future model.json "${bad_json}" "model.json: model version 7 is not supported")
string(REPLACE "\"method\": \"tsne\"" "\"method\": \"isomap\"" bad_json "${json}")
expect_model_error(method model.json "${bad_json}" "unknown method 'isomap'")
string(REPLACE "\"theta\":" "\"theta_misspelt\":" bad_json "${json}")
expect_model_error(missing model.json "${bad_json}" "field 'tsne.theta' is missing")

# UMAP: a saved model transforms to the bits of the in-process transform (same seed and threads); the t-SNE options
# of transform are refused for it.
execute_process(COMMAND ${EXE} umap ${X} -o ${WORK}/u.npy --pca 2 --n-neighbors 5 --n-epochs 30 -j 2 --seed 4
                        --transform ${X} --transform-output ${WORK}/u_in_process.npy --save-model ${WORK}/umap -q
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nembed umap --save-model failed")
endif()
execute_process(COMMAND ${EXE} transform ${X} -m ${WORK}/umap -o ${WORK}/u_loaded.npy -j 2 --seed 4 -q
                RESULT_VARIABLE rc)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/u_in_process.npy ${WORK}/u_loaded.npy
                RESULT_VARIABLE differ)
if(NOT rc EQUAL 0 OR NOT differ EQUAL 0)
  message(FATAL_ERROR "transform of the saved UMAP model differs from nembed umap --transform (rc ${rc})")
endif()
set(args transform ${X} -m ${WORK}/umap -o ${WORK}/u2.npy --n-iter 10 -q)
expect_one_error_line("${args}")
execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
if(NOT err MATCHES "--n-iter applies to t-SNE models")
  message(FATAL_ERROR "--n-iter with a UMAP model: unexpected message:\n${err}")
endif()

# cne: the model is saved, and transform says why it cannot use it.
execute_process(COMMAND ${EXE} cne ${X} -o ${WORK}/c.npy -k 5 --n-epochs 5 --batch-size 16 --save-model ${WORK}/cne -q
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/cne/model.json OR NOT EXISTS ${WORK}/cne/embedding.npy)
  message(FATAL_ERROR "nembed cne --save-model failed")
endif()
set(args transform ${X} -m ${WORK}/cne -o ${WORK}/c2.npy -q)
expect_one_error_line("${args}")
execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
if(NOT err MATCHES "non-parametric cne model: its embedding is a table")
  message(FATAL_ERROR "transform with a cne model: unexpected message:\n${err}")
endif()

# Metric parameters on the methods (issue #20): the saved model records them, and `nembed transform` with the model
# gives the bits of the fit's own `--transform`; without them in model.json the transform differs. cne takes an input
# metric too, which a given --graph would make meaningless (refused).
execute_process(COMMAND ${EXE} umap ${X} -o ${WORK}/Um.npy --metric minkowski --metric-param p=3 --n-epochs 20
                        --n-neighbors 5 --seed 3 --transform ${X} --transform-output ${WORK}/Um_t.npy
                        --save-model ${WORK}/mink -q RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nembed umap --metric minkowski --metric-param p=3 failed:\n${err}")
endif()
file(READ ${WORK}/mink/model.json mjson)
if(NOT mjson MATCHES "\"metric\": \"minkowski\"" OR NOT mjson MATCHES "\"metric_params\": {[^}]*\"p\": 3")
  message(FATAL_ERROR "the model does not record the metric and its parameters:\n${mjson}")
endif()
execute_process(COMMAND ${EXE} transform ${X} -m ${WORK}/mink -o ${WORK}/Um_m.npy --seed 3 -q RESULT_VARIABLE rc
                ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nembed transform of the minkowski model failed:\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/Um_t.npy ${WORK}/Um_m.npy RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "transform with the saved minkowski model differs from the fit's --transform")
endif()
string(REGEX REPLACE ",[ \n]*\"metric_params\": {[^}]*}" "" plain_json "${mjson}")
file(COPY ${WORK}/mink/ DESTINATION ${WORK}/mink_plain)
file(WRITE ${WORK}/mink_plain/model.json "${plain_json}")
execute_process(COMMAND ${EXE} transform ${X} -m ${WORK}/mink_plain -o ${WORK}/Um_p.npy --seed 3 -q RESULT_VARIABLE rc)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/Um_t.npy ${WORK}/Um_p.npy RESULT_VARIABLE same)
if(NOT rc EQUAL 0 OR same EQUAL 0)
  message(FATAL_ERROR "the model without its metric parameters should transform differently (p = 2)")
endif()
set(args cne ${X} -o ${WORK}/c.npy --graph ${WORK}/missing.npz --metric manhattan -q)
expect_one_error_line("${args}")
execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
if(NOT err MATCHES "--metric / --metric-param: the kNN graph's metric has no effect with --graph")
  message(FATAL_ERROR "cne --graph --metric: expected a refusal, got:\n${err}")
endif()
# Parametric cne: the saved network transforms the training rows to the bits of the fit's output; new data of the
# wrong width and a bad hidden width are refused in one line.
execute_process(COMMAND ${EXE} cne ${X} -o ${WORK}/p.npy -k 5 --n-epochs 3 --batch-size 16 --parametric
                        --hidden 8,4 --activation tanh --optimizer adam -j 2 --save-model ${WORK}/pcne -q
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT EXISTS ${WORK}/pcne/network.npy)
  message(FATAL_ERROR "nembed cne --parametric --save-model failed")
endif()
execute_process(COMMAND ${EXE} transform ${X} -m ${WORK}/pcne -o ${WORK}/p_loaded.npy -q RESULT_VARIABLE rc)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/p.npy ${WORK}/p_loaded.npy RESULT_VARIABLE differ)
if(NOT rc EQUAL 0 OR NOT differ EQUAL 0)
  message(FATAL_ERROR "transform with the saved network differs from the fit's embedding (rc ${rc})")
endif()
set(args transform ${OTHER} -m ${WORK}/pcne -o ${WORK}/p2.npy -q)
expect_one_error_line("${args}")
set(args cne ${X} -o ${WORK}/p3.npy -k 5 --parametric --hidden 8,0 -q)
expect_one_error_line("${args}")
execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
if(NOT err MATCHES "width must be > 0")
  message(FATAL_ERROR "--hidden 8,0: unexpected message:\n${err}")
endif()
# --network-precision bf16 (parametric/gemm.hpp): the model records it and the reloaded network applies in bf16, to
# the fit's bits, -j 1 and -j 2 alike; without oneDNN or on a CPU without bfloat16 products (AVX2 only) the option
# is refused in one line naming it. An unknown precision is refused naming the value.
set(args cne ${X} -o ${WORK}/b.npy -k 5 --n-epochs 3 --batch-size 16 --parametric --hidden 8,4 --optimizer adam
         --network-precision bf16 -j 2 --save-model ${WORK}/bcne -q)
execute_process(COMMAND ${EXE} ${args} RESULT_VARIABLE rc ERROR_VARIABLE err)
if(err MATCHES "precision bf16 is not available")
  expect_one_error_line("${args}")
else()
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nembed cne --parametric --network-precision bf16 failed:\n${err}")
  endif()
  file(READ ${WORK}/bcne/model.json mjson)
  if(NOT mjson MATCHES "\"precision\": \"bf16\"")
    message(FATAL_ERROR "--network-precision bf16: model.json does not record it:\n${mjson}")
  endif()
  execute_process(COMMAND ${EXE} cne ${X} -o ${WORK}/b1.npy -k 5 --n-epochs 3 --batch-size 16 --parametric
                          --hidden 8,4 --optimizer adam --network-precision bf16 -j 1 -q RESULT_VARIABLE rc1)
  execute_process(COMMAND ${EXE} transform ${X} -m ${WORK}/bcne -o ${WORK}/b_loaded.npy -q RESULT_VARIABLE rc2)
  foreach(other b1 b_loaded)
    execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/b.npy ${WORK}/${other}.npy
                    RESULT_VARIABLE differ)
    if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0 OR NOT differ EQUAL 0)
      message(FATAL_ERROR "--network-precision bf16: ${other}.npy differs from the fit's embedding")
    endif()
  endforeach()
  execute_process(COMMAND ${EXE} cne ${X} -o ${WORK}/b32.npy -k 5 --n-epochs 3 --batch-size 16 --parametric
                          --hidden 8,4 --optimizer adam -j 2 -q)
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${WORK}/b.npy ${WORK}/b32.npy RESULT_VARIABLE same)
  if(same EQUAL 0)
    message(FATAL_ERROR "--network-precision bf16 gave the float32 run's bits")
  endif()
endif()
set(args cne ${X} -o ${WORK}/b2.npy -k 5 --parametric --network-precision float16 -q)
expect_one_error_line("${args}")
execute_process(COMMAND ${EXE} ${args} ERROR_VARIABLE err)
if(NOT err MATCHES "unknown precision 'float16'")
  message(FATAL_ERROR "--network-precision float16: unexpected message:\n${err}")
endif()
