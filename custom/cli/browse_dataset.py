"""Draw a config's data as the model gets it: ground truth after the pipeline, to PNGs or a contact sheet.

Usage: python tools/browse_dataset.py CONFIG [--split train|val|test] [--num 16] [--indices 0 5 9]
       [--out-dir work_dirs/browse] [--contact-sheet] [--cfg-options key=value ...]
Masks are tinted, boxes and class names drawn in the class's colour, ignore regions hatched grey
(custom/data_tools/browse.py). The train split runs the training pipeline, random flips included.
"""

import argparse
import sys
from pathlib import Path

from custom.cli.arguments import add_data_arguments, data_options
from custom.data_tools.browse import browse, contact_sheet
from custom.engine.runtime import load_config
from custom.errors import report_user_errors
from custom.files import write_image


@report_user_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=16, help='the first NUM samples (default 16)')
    parser.add_argument('--indices', type=int, nargs='+', help='these dataset indices instead of --num')
    parser.add_argument('--out-dir', default='work_dirs/browse')
    parser.add_argument('--contact-sheet', action='store_true',
                        help='one contact_sheet.png instead of one PNG each')
    parser.add_argument('--columns', type=int, default=0,
                        help='contact sheet columns (default: about square)')
    add_data_arguments(parser)
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, **data_options(args))
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = list(browse(cfg, args.split, args.indices, args.num))
    if args.contact_sheet:
        written = [out_dir / 'contact_sheet.png']
        write_image(written[0], contact_sheet(drawn, args.columns))
    else:
        written = []
        for name, image in drawn:
            written.append(out_dir / f'{Path(name).stem}.png')
            write_image(written[-1], image)
    print(f'{len(drawn)} {args.split} samples drawn: ' + ', '.join(str(path) for path in written[:3])
          + (' ...' if len(written) > 3 else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
