import ErnieModel
