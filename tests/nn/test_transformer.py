"""Transformer, TransformerEncoder(Layer), TransformerDecoder(Layer): PyTorch's parameters,
state_dict keys, defaults, masks, and the same outputs and gradients as PyTorch."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad import nn
from tapegrad.autograd import gradcheck

rng = np.random.default_rng(0)


def small_transformer(**kwargs):
    options = {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2,
               "dim_feedforward": 12, "dropout": 0.0}
    return nn.Transformer(**{**options, **kwargs})


def values(*shape):
    return rng.standard_normal(shape)


# -- parameters and state_dict keys ----------------------------------------------------------------
ENCODER_LAYER_KEYS = ["self_attn.in_proj_weight", "self_attn.in_proj_bias",
                      "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight",
                      "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight",
                      "norm1.bias", "norm2.weight", "norm2.bias"]
DECODER_LAYER_KEYS = ["self_attn.in_proj_weight", "self_attn.in_proj_bias",
                      "self_attn.out_proj.weight", "self_attn.out_proj.bias",
                      "multihead_attn.in_proj_weight", "multihead_attn.in_proj_bias",
                      "multihead_attn.out_proj.weight", "multihead_attn.out_proj.bias",
                      "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
                      "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias", "norm3.weight",
                      "norm3.bias"]


def test_state_dict_keys_are_pytorchs():
    assert list(nn.TransformerEncoderLayer(8, 2).state_dict()) == ENCODER_LAYER_KEYS
    assert list(nn.TransformerDecoderLayer(8, 2).state_dict()) == DECODER_LAYER_KEYS
    expected = ([f"encoder.layers.{i}.{k}" for i in range(2) for k in ENCODER_LAYER_KEYS]
                + ["encoder.norm.weight", "encoder.norm.bias"]
                + [f"decoder.layers.{i}.{k}" for i in range(2) for k in DECODER_LAYER_KEYS]
                + ["decoder.norm.weight", "decoder.norm.bias"])
    assert list(small_transformer().state_dict()) == expected


def test_without_bias_there_are_no_bias_parameters():
    keys = list(nn.TransformerEncoderLayer(8, 2, bias=False).state_dict())
    assert keys == [k for k in ENCODER_LAYER_KEYS if not k.endswith("bias")]


def test_defaults_are_pytorchs():
    layer = nn.TransformerEncoderLayer(8, 2)
    assert layer.linear1.weight.shape == (2048, 8) and layer.linear2.weight.shape == (8, 2048)
    assert layer.dropout.p == layer.dropout1.p == layer.dropout2.p == 0.1
    assert layer.norm1.eps == 1e-5 and layer.norm_first is False
    assert layer.self_attn.batch_first is False and layer.self_attn.num_heads == 2
    assert layer.activation is nn.functional.relu and layer.activation_relu_or_gelu == 1
    model = nn.Transformer(d_model=16, nhead=4, dim_feedforward=8)
    assert model.d_model == 16 and model.nhead == 4 and model.batch_first is False
    assert len(model.encoder.layers) == 6 and len(model.decoder.layers) == 6
    assert isinstance(model.encoder.norm, nn.LayerNorm)
    assert isinstance(model.decoder.norm, nn.LayerNorm)


def test_encoder_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    encoder = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert first is not second and first is not layer.linear1.weight
    np.testing.assert_array_equal(first.detach().numpy(), second.detach().numpy())
    assert encoder.norm is None and encoder.use_nested_tensor is False
    assert len(list(encoder.parameters())) == 3 * len(list(layer.parameters()))


def test_transformer_reinitialises_every_matrix_so_the_copies_differ():
    model = small_transformer()
    a = model.encoder.layers[0].self_attn.in_proj_weight.detach().numpy()
    b = model.encoder.layers[1].self_attn.in_proj_weight.detach().numpy()
    assert not np.allclose(a, b)
    fan_in, fan_out = 8, 24   # xavier_uniform_ bound √(6 / (fan_in + fan_out))
    assert np.abs(a).max() <= np.sqrt(6 / (fan_in + fan_out))
    np.testing.assert_array_equal(model.encoder.layers[0].norm1.weight.detach().numpy(), 1)


def test_activation_as_a_string_a_function_or_a_module():
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation is nn.functional.gelu
    assert nn.TransformerEncoderLayer(8, 2, activation="gelu").activation_relu_or_gelu == 2
    layer = nn.TransformerEncoderLayer(8, 2, activation=nn.GELU())
    assert isinstance(layer.activation, nn.GELU) and layer.activation_relu_or_gelu == 2
    assert "(activation): GELU" in repr(layer)
    layer = nn.TransformerDecoderLayer(8, 2, activation=tg.tanh)
    assert layer.activation is tg.tanh
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not swish"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
    with pytest.raises(TypeError, match="activation should be .*got int"):
        nn.TransformerDecoderLayer(8, 2, activation=3)


def test_custom_encoder_and_decoder_are_used():
    decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0), 1)

    class Memory(nn.Module):
        def forward(self, src, **masks):
            return src * 2

    model = nn.Transformer(8, 2, custom_encoder=Memory(), custom_decoder=decoder)
    assert model.decoder is decoder and isinstance(model.encoder, Memory)
    src, tgt = tg.randn(5, 3, 8), tg.randn(4, 3, 8)
    np.testing.assert_allclose(model(src, tgt).detach().numpy(),
                               decoder(tgt, src * 2).detach().numpy(), rtol=1e-6)


# -- shapes ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_batched_and_unbatched(batch_first):
    model = small_transformer(batch_first=batch_first)
    src = tg.randn(3, 5, 8) if batch_first else tg.randn(5, 3, 8)
    tgt = tg.randn(3, 4, 8) if batch_first else tg.randn(4, 3, 8)
    assert model(src, tgt).shape == tgt.shape
    assert model(tg.randn(5, 8), tg.randn(4, 8)).shape == (4, 8)
    assert model.encoder(src).shape == src.shape


def test_batch_first_only_moves_the_batch_dimension():
    plain, first = small_transformer(), small_transformer(batch_first=True)
    first.load_state_dict(plain.state_dict())
    src, tgt = tg.randn(5, 3, 8), tg.randn(4, 3, 8)
    want = plain(src, tgt).detach().numpy()
    got = first(src.transpose(0, 1), tgt.transpose(0, 1)).detach().numpy()
    np.testing.assert_allclose(got.transpose(1, 0, 2), want, rtol=1e-5, atol=1e-6)


def test_errors_name_the_shapes():
    model = small_transformer()
    with pytest.raises(RuntimeError, match=r"batch number of src and tgt must be equal.*"
                                           r"\(5, 3, 8\).*\(4, 2, 8\)"):
        model(tg.randn(5, 3, 8), tg.randn(4, 2, 8))
    with pytest.raises(RuntimeError, match=r"feature number of src and tgt must be equal to "
                                           r"d_model=8.*\(4, 3, 6\)"):
        model(tg.randn(5, 3, 8), tg.randn(4, 3, 6))
    with pytest.raises(TypeError, match="expected a layer Module"):
        nn.TransformerEncoder("layer", 2)
    with pytest.raises(ValueError, match="num_layers must be a non-negative int, got -1"):
        nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2), -1)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(8, 3)


# -- masks -----------------------------------------------------------------------------------------
def test_the_causal_mask_is_minus_infinity_above_the_diagonal():
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    assert mask.dtype == tg.float32 and mask.shape == (4, 4)
    expected = np.triu(np.full((4, 4), -np.inf), 1)
    np.testing.assert_array_equal(mask.numpy(), expected)
    assert nn.Transformer.generate_square_subsequent_mask(2, dtype=tg.float64).dtype == tg.float64
    np.testing.assert_array_equal(small_transformer().generate_square_subsequent_mask(1).numpy(),
                                  [[0.0]])


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_causal_target_mask_keeps_the_future_out(norm_first):
    model = small_transformer(norm_first=norm_first)
    src, tgt = tg.randn(5, 2, 8), values(6, 2, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    changed = tgt.copy()
    changed[4:] += values(2, 2, 8)     # change positions 4 and 5 only
    before = model(src, tg.tensor(tgt, dtype=tg.float32), tgt_mask=mask).detach().numpy()
    after = model(src, tg.tensor(changed, dtype=tg.float32), tgt_mask=mask).detach().numpy()
    np.testing.assert_allclose(after[:4], before[:4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(after[4:], before[4:])
    # Without the mask the change reaches every position.
    free = model(src, tg.tensor(changed, dtype=tg.float32)).detach().numpy()
    assert not np.allclose(free[:4], model(src, tg.tensor(tgt, dtype=tg.float32))
                           .detach().numpy()[:4])


def test_bool_and_float_causal_masks_agree_and_is_causal_is_detected():
    layer = nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0)
    decoder = nn.TransformerDecoder(layer, 2)
    tgt, memory = tg.randn(5, 2, 8), tg.randn(3, 2, 8)
    float_mask = nn.Transformer.generate_square_subsequent_mask(5)
    bool_mask = tg.tensor(np.triu(np.ones((5, 5), bool), 1))
    a = decoder(tgt, memory, tgt_mask=float_mask).detach().numpy()
    b = decoder(tgt, memory, tgt_mask=bool_mask).detach().numpy()
    c = decoder(tgt, memory, tgt_mask=float_mask, tgt_is_causal=True).detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        decoder(tgt, memory, tgt_is_causal=True)


def test_padded_source_positions_do_not_reach_the_output():
    model = small_transformer()
    src, tgt = values(5, 2, 8), tg.randn(4, 2, 8)
    padding = np.zeros((2, 5), bool)
    padding[0, 3:] = True      # sample 0 has 3 real positions, sample 1 has 5
    changed = src.copy()
    changed[3:, 0] += 5.0
    outputs = []
    for s in (src, changed):
        outputs.append(model(tg.tensor(s, dtype=tg.float32), tgt,
                             src_key_padding_mask=tg.tensor(padding),
                             memory_key_padding_mask=tg.tensor(padding)).detach().numpy())
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-6)
    # Unpadded, the same change shows.
    unpadded = model(tg.tensor(changed, dtype=tg.float32), tgt).detach().numpy()
    assert not np.allclose(unpadded, outputs[0])


def test_dropout_acts_in_training_only():
    model = small_transformer(dropout=0.5)
    src, tgt = tg.randn(5, 2, 8), tg.randn(4, 2, 8)
    model.eval()
    np.testing.assert_array_equal(model(src, tgt).detach().numpy(),
                                  model(src, tgt).detach().numpy())
    model.train()
    tg.manual_seed(1)
    a = model(src, tgt).detach().numpy()
    tg.manual_seed(1)
    b = model(src, tgt).detach().numpy()
    tg.manual_seed(2)
    c = model(src, tgt).detach().numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


# -- gradients -------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_through_a_whole_transformer(norm_first):
    model = nn.Transformer(4, 2, 1, 1, 6, dropout=0.0, norm_first=norm_first,
                           activation="gelu").double()
    src = tg.tensor(values(3, 2, 4), requires_grad=True)
    tgt = tg.tensor(values(2, 2, 4), requires_grad=True)
    mask = nn.Transformer.generate_square_subsequent_mask(2, dtype=tg.float64)
    padding = tg.tensor(np.array([[False, False, True], [False, False, False]]))
    # Each layer kind once (all of them are compared with PyTorch below, where it exists).
    params = (model.encoder.layers[0].self_attn.in_proj_weight,
              model.decoder.layers[0].multihead_attn.out_proj.bias,
              model.decoder.layers[0].linear1.weight, model.encoder.layers[0].norm2.weight,
              model.decoder.norm.bias)
    assert gradcheck(lambda s, t, *p: model(s, t, tgt_mask=mask, src_key_padding_mask=padding),
                     (src, tgt, *params))


# -- PyTorch compatibility (only where PyTorch is installed) ---------------------------------------
def _load_from(ours, reference):
    ours.load_state_dict({k: v.detach().numpy() for k, v in reference.state_dict().items()})


def _compare_gradients(ours, reference, pairs, atol=1e-9):
    for (key, p), (ref_key, p_ref) in zip(ours.named_parameters(), reference.named_parameters()):
        assert key == ref_key
        np.testing.assert_allclose(p.grad.numpy(), p_ref.grad.numpy(), atol=atol, err_msg=key)
    for mine, theirs in pairs:
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), atol=atol)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_pytorch_transformer_gives_the_same_outputs_and_gradients(batch_first, norm_first):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    kwargs = {"d_model": 8, "nhead": 2, "num_encoder_layers": 2, "num_decoder_layers": 2,
              "dim_feedforward": 12, "batch_first": batch_first, "norm_first": norm_first}
    reference = torch.nn.Transformer(**kwargs).double().eval()
    ours = nn.Transformer(**kwargs).double().eval()
    _load_from(ours, reference)
    s, t = (values(2, 5, 8), values(2, 4, 8)) if batch_first else (values(5, 2, 8),
                                                                   values(4, 2, 8))
    padding = np.zeros((2, 5), bool)
    padding[1, 3:] = True
    tgt_padding = np.zeros((2, 4), bool)
    tgt_padding[0, 3] = True
    memory_mask = np.zeros((4, 5))
    memory_mask[0, 0] = -np.inf
    memory_mask[2, 1] = -1.5
    weights = values(*t.shape)
    masks = {"tgt_mask": nn.Transformer.generate_square_subsequent_mask(4, dtype=tg.float64),
             "src_key_padding_mask": tg.tensor(padding),
             "tgt_key_padding_mask": tg.tensor(tgt_padding),
             "memory_mask": tg.tensor(memory_mask),
             "memory_key_padding_mask": tg.tensor(padding)}
    ref_masks = {k: torch.from_numpy(v.numpy()) for k, v in masks.items()}

    src, tgt = tg.tensor(s, requires_grad=True), tg.tensor(t, requires_grad=True)
    out = ours(src, tgt, **masks)
    (out * tg.tensor(weights)).sum().backward()
    ref_src = torch.from_numpy(s).requires_grad_()
    ref_tgt = torch.from_numpy(t).requires_grad_()
    ref_out = reference(ref_src, ref_tgt, **ref_masks)
    (ref_out * torch.from_numpy(weights)).sum().backward()

    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=1e-10)
    _compare_gradients(ours, reference, [(src, ref_src), (tgt, ref_tgt)])


@pytest.mark.parametrize("activation", ["gelu", "relu"])
def test_pytorch_layers_with_bool_masks_unbatched_and_without_bias(activation):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    kwargs = {"d_model": 6, "nhead": 3, "dim_feedforward": 10, "activation": activation,
              "bias": False}
    ref_encoder = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(**kwargs), 2, norm=torch.nn.LayerNorm(6),
        enable_nested_tensor=False).double().eval()
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kwargs), 2,
                                    norm=nn.LayerNorm(6)).double().eval()
    ref_decoder = torch.nn.TransformerDecoderLayer(**kwargs, norm_first=True).double().eval()
    decoder = nn.TransformerDecoderLayer(**kwargs, norm_first=True).double().eval()
    _load_from(encoder, ref_encoder)
    _load_from(decoder, ref_decoder)
    s, t = values(5, 6), values(3, 6)      # unbatched: (L, E)
    src_mask = rng.random((5, 5)) < 0.3
    np.fill_diagonal(src_mask, False)      # every position may attend to itself
    causal = np.triu(np.ones((3, 3), bool), 1)

    src, tgt = tg.tensor(s, requires_grad=True), tg.tensor(t, requires_grad=True)
    out = decoder(tgt, encoder(src, mask=tg.tensor(src_mask)), tgt_mask=tg.tensor(causal),
                  tgt_is_causal=True)
    (out * out).sum().backward()
    ref_src = torch.from_numpy(s).requires_grad_()
    ref_tgt = torch.from_numpy(t).requires_grad_()
    ref_out = ref_decoder(ref_tgt, ref_encoder(ref_src, mask=torch.from_numpy(src_mask)),
                          tgt_mask=torch.from_numpy(causal), tgt_is_causal=True)
    (ref_out * ref_out).sum().backward()

    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), atol=1e-10)
    _compare_gradients(encoder, ref_encoder, [(src, ref_src)])
    _compare_gradients(decoder, ref_decoder, [(tgt, ref_tgt)])


def test_pytorch_causal_mask_is_the_same():
    torch = pytest.importorskip("torch")
    for size in (1, 3, 6):
        np.testing.assert_array_equal(
            nn.Transformer.generate_square_subsequent_mask(size).numpy(),
            torch.nn.Transformer.generate_square_subsequent_mask(size).numpy())
