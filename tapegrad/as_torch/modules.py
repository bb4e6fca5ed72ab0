"""Where each PyTorch module lives in tapegrad: the one table the import hook reads.

A torch path maps to the tapegrad modules that hold its names, searched in order. A name
is looked up in each of them; the first that has it answers. Two torch paths can share a
tapegrad module (``torch.utils.data`` and ``torchvision.datasets`` both read
``tapegrad.data``), and one torch path can gather several (PyTorch keeps
``MultiheadAttention`` in ``torch.nn.modules.activation``; tapegrad keeps it in
``attention.py``). A tapegrad module that is not there (yet) is skipped; a torch path none
of whose modules is there raises PyTorch's-name-missing ImportError. An empty list is a
namespace: it holds only the paths below it (``torchvision`` itself).
"""

TORCH_TO_TAPEGRAD = {
    "torch": ["tapegrad"],
    "torch.autograd": ["tapegrad.autograd"],
    "torch.autograd.function": ["tapegrad.autograd.function"],
    "torch.autograd.grad_mode": ["tapegrad.autograd.grad_mode"],
    "torch.autograd.gradcheck": ["tapegrad.autograd.gradcheck"],
    "torch.autograd.anomaly_mode": ["tapegrad.autograd.anomaly"],
    "torch.autograd.profiler": ["tapegrad.autograd.profiler"],
    "torch.autograd.variable": ["tapegrad.autograd.variable"],
    "torch.functional": ["tapegrad.functional"],
    "torch.random": ["tapegrad.random"],
    "torch.serialization": ["tapegrad.serialization"],
    "torch.types": ["tapegrad.dtypes"],
    "torch.cuda": ["tapegrad.cuda"],
    "torch.accelerator": ["tapegrad.accelerator"],
    "torch.backends": ["tapegrad.backends"],
    "torch.backends.cuda": ["tapegrad.backends.cuda"],
    "torch.backends.cudnn": ["tapegrad.backends.cudnn"],
    "torch.backends.mps": ["tapegrad.backends.mps"],
    "torch.linalg": ["tapegrad.linalg"],
    "torch.distributions": ["tapegrad.distributions"],
    "torch.distributions.distribution": ["tapegrad.distributions.distribution"],
    "torch.distributions.constraints": ["tapegrad.distributions.constraints"],
    "torch.distributions.kl": ["tapegrad.distributions.kl"],
    "torch.distributions.bernoulli": ["tapegrad.distributions.bernoulli"],
    "torch.distributions.beta": ["tapegrad.distributions.beta"],
    "torch.distributions.categorical": ["tapegrad.distributions.categorical"],
    "torch.distributions.gamma": ["tapegrad.distributions.gamma"],
    "torch.distributions.multivariate_normal": ["tapegrad.distributions.multivariate_normal"],
    "torch.distributions.normal": ["tapegrad.distributions.normal"],
    "torch.distributions.uniform": ["tapegrad.distributions.uniform"],
    "torch.multiprocessing": ["tapegrad.multiprocessing"],
    "torch.distributed": ["tapegrad.distributed"],
    "torch.distributed.run": ["tapegrad.distributed.run"],
    "torch.distributed.nn": ["tapegrad.distributed.nn"],
    "torch.onnx": ["tapegrad.onnx"],

    "torch.nn": ["tapegrad.nn"],
    "torch.nn.functional": ["tapegrad.nn.functional"],
    "torch.nn.init": ["tapegrad.nn.init"],
    "torch.nn.parameter": ["tapegrad.nn.parameter"],
    "torch.nn.parallel": ["tapegrad.nn.parallel"],
    "torch.nn.parallel.data_parallel": ["tapegrad.nn.parallel.data_parallel"],
    "torch.nn.parallel.distributed": ["tapegrad.nn.parallel.distributed"],
    "torch.nn.utils": ["tapegrad.nn.utils"],
    "torch.nn.utils.clip_grad": ["tapegrad.nn.utils.clip_grad"],
    "torch.nn.utils.convert_parameters": ["tapegrad.nn.utils.convert_parameters"],
    # PyTorch's own module paths, so that pickled class references and
    # ``from torch.nn.modules.linear import Linear`` resolve
    "torch.nn.modules": ["tapegrad.nn.modules"],
    "torch.nn.modules.module": ["tapegrad.nn.module"],
    "torch.nn.modules.container": ["tapegrad.nn.containers"],
    "torch.nn.modules.activation": ["tapegrad.nn.modules.activation",
                                    "tapegrad.nn.modules.attention"],
    "torch.nn.modules.batchnorm": ["tapegrad.nn.modules.normalization"],
    "torch.nn.modules.normalization": ["tapegrad.nn.modules.normalization"],
    "torch.nn.modules.conv": ["tapegrad.nn.modules.conv"],
    "torch.nn.modules.distance": ["tapegrad.nn.modules.distance"],
    "torch.nn.modules.dropout": ["tapegrad.nn.modules.dropout"],
    "torch.nn.modules.flatten": ["tapegrad.nn.modules.flatten"],
    "torch.nn.modules.linear": ["tapegrad.nn.modules.linear"],
    "torch.nn.modules.loss": ["tapegrad.nn.modules.loss"],
    "torch.nn.modules.pooling": ["tapegrad.nn.modules.pooling"],
    "torch.nn.modules.rnn": ["tapegrad.nn.modules.rnn"],
    "torch.nn.modules.sparse": ["tapegrad.nn.modules.sparse"],
    "torch.nn.modules.transformer": ["tapegrad.nn.modules.transformer"],

    "torch.optim": ["tapegrad.optim"],
    "torch.optim.optimizer": ["tapegrad.optim.optimizer"],
    "torch.optim.lr_scheduler": ["tapegrad.optim.lr_scheduler"],
    "torch.optim.sgd": ["tapegrad.optim.sgd"],
    "torch.optim.adam": ["tapegrad.optim.adam"],
    "torch.optim.adamw": ["tapegrad.optim.adamw"],
    "torch.optim.adagrad": ["tapegrad.optim.adagrad"],
    "torch.optim.adadelta": ["tapegrad.optim.adadelta"],
    "torch.optim.adamax": ["tapegrad.optim.adamax"],
    "torch.optim.nadam": ["tapegrad.optim.nadam"],
    "torch.optim.rmsprop": ["tapegrad.optim.rmsprop"],
    "torch.optim.lbfgs": ["tapegrad.optim.lbfgs"],

    "torch.utils": ["tapegrad.utils"],
    "torch.utils.data": ["tapegrad.data"],
    "torch.utils.data.dataset": ["tapegrad.data.dataset"],
    "torch.utils.data.dataloader": ["tapegrad.data.dataloader"],
    "torch.utils.data.sampler": ["tapegrad.data.sampler"],
    "torch.utils.data.distributed": ["tapegrad.data.distributed"],
    "torch.utils.tensorboard": ["tapegrad.utils.tensorboard"],

    "torchvision": [],
    "torchvision.datasets": ["tapegrad.vision.datasets", "tapegrad.data"],
    "torchvision.transforms": ["tapegrad.vision.transforms", "tapegrad.data.transforms"],
    "torchvision.utils": ["tapegrad.vision.utils"],
    "torchvision.io": ["tapegrad.vision.io"],
    "torchvision.ops": ["tapegrad.vision.ops"],
    "torchvision.models": ["tapegrad.vision.models"],
    "torchvision.models.resnet": ["tapegrad.vision.models.resnet"],
    "torchvision.models.vgg": ["tapegrad.vision.models.vgg"],
    "torchvision.models.mobilenetv2": ["tapegrad.vision.models.mobilenetv2"],
}

ROOTS = ("torch", "torchvision")


def is_torch_path(name):
    """True for ``torch``, ``torchvision`` and every dotted path under them."""
    return name.split(".")[0] in ROOTS
