<?php
undefined_function_call();
